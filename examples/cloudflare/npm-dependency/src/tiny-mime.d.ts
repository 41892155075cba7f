// For this repository's `tsc` only, which type-checks the examples without installing their
// node_modules: the types that node_modules/tiny-mime/index.d.ts gives a real project.
declare module "tiny-mime" {
  export interface MimeMessage {
    from(name: string, addr: string): MimeMessage;
    to(addr: string): MimeMessage;
    subject(text: string): MimeMessage;
    text(content: string): MimeMessage;
    asRaw(): string;
  }
  export function createMessage(): MimeMessage;
  export const runtime: "workerd" | "node";
}
