// For `weft run --bindings local-bindings.ts`: binds THUMBNAILS to the workflow `weft run` deploys,
// so the batch can start instances of itself. On Cloudflare, wrangler.jsonc declares this binding.
import { workflowBinding } from "weft";

export default ({ workflow }: { workflow: string }) => ({ THUMBNAILS: workflowBinding(workflow) });
