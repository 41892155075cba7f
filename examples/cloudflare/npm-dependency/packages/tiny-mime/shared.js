// Helpers both builds share.

/** An RFC 2047 encoded word for a header value that is not plain ASCII. */
export function encodeHeader(value) {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  const bytes = new TextEncoder().encode(value);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `=?utf-8?B?${btoa(binary)}?=`;
}

/** CRLF line ends, as SMTP wants them. */
export function foldBody(text) {
  return text.replace(/\r?\n/g, "\r\n");
}
