// tiny-mime for Node.js: the same API on node:buffer. A bundler for Workers must not pick this file
// (Workers without nodejs_compat have no node:buffer): the "workerd" export condition selects worker.js.
import { Buffer } from "node:buffer";
import { foldBody } from "./shared.js";

export function createMessage() {
  const headers = [];
  let body = "";
  const enc = (s) => (/^[\x20-\x7e]*$/.test(s) ? s : `=?utf-8?B?${Buffer.from(s, "utf8").toString("base64")}?=`);
  const message = {
    from(name, addr) { headers.push(["From", `${enc(name)} <${addr}>`]); return message; },
    to(addr) { headers.push(["To", `<${addr}>`]); return message; },
    subject(text) { headers.push(["Subject", enc(text)]); return message; },
    text(content) { body = content; return message; },
    asRaw() {
      const all = [...headers, ["MIME-Version", "1.0"], ["Content-Type", "text/plain; charset=utf-8"], ["Content-Transfer-Encoding", "8bit"]];
      return all.map(([k, v]) => `${k}: ${v}`).join("\r\n") + "\r\n\r\n" + foldBody(body);
    },
  };
  return message;
}

export const runtime = "node";
