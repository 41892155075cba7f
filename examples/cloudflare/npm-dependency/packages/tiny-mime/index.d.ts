export interface MimeMessage {
  from(name: string, addr: string): MimeMessage;
  to(addr: string): MimeMessage;
  subject(text: string): MimeMessage;
  text(content: string): MimeMessage;
  asRaw(): string;
}
export function createMessage(): MimeMessage;
/** which build the bundler picked: "workerd" or "node" */
export const runtime: "workerd" | "node";
