// tiny-mime for Workers and browsers: Web APIs only (TextEncoder, btoa).
import { encodeHeader, foldBody } from "./shared.js";

export function createMessage() {
  const headers = [];
  let body = "";
  const message = {
    from(name, addr) { headers.push(["From", `${encodeHeader(name)} <${addr}>`]); return message; },
    to(addr) { headers.push(["To", `<${addr}>`]); return message; },
    subject(text) { headers.push(["Subject", encodeHeader(text)]); return message; },
    text(content) { body = content; return message; },
    asRaw() {
      const all = [...headers, ["MIME-Version", "1.0"], ["Content-Type", "text/plain; charset=utf-8"], ["Content-Transfer-Encoding", "8bit"]];
      return all.map(([k, v]) => `${k}: ${v}`).join("\r\n") + "\r\n\r\n" + foldBody(body);
    },
  };
  return message;
}

export const runtime = "workerd";
