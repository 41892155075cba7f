// Child instances through a Workflow binding (developers.cloudflare.com/workflows/build/rules-of-workflows/:
// "run functions with side effects inside of a step" — creating instances is one — and "batch
// multiple Workflow invocations" with createBatch): a batch job starts one instance per image, each
// child reports back with sendEvent to its parent, and the parent waits for one event per child.
// Parent and children are the same workflow (the params say which role an instance has), bound to
// itself as THUMBNAILS, so the example needs one class and one binding.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

type Env = { THUMBNAILS: Workflow<Params> };

type Params =
  | { role?: "batch"; images: string[] }
  | { role: "image"; image: string; parentId: string };

type Thumbnail = { image: string; thumbnail: string; width: number };

export class ThumbnailBatch extends WorkflowEntrypoint<Env, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const p = event.payload;
    if (p.role === "image") return this.child(p, step);

    const images = p.images ?? ["cat.jpg", "dog.jpg", "owl.jpg"];
    // ✅ creating instances is a side effect: inside a step, so a replay does not create them again;
    // one createBatch call instead of one create per image
    const children = await step.do("start one instance per image", async () => {
      const created = await this.env.THUMBNAILS.createBatch(
        images.map((image, i) => ({ id: `${event.instanceId}-${i + 1}`, params: { role: "image" as const, image, parentId: event.instanceId } })),
      );
      return created.map((c) => c.id);
    });

    // one wait per child; events of one type are delivered to the waits in the order they arrive
    const done: Thumbnail[] = [];
    for (let i = 0; i < children.length; i++) {
      const ev = await step.waitForEvent<Thumbnail>(`collect thumbnail ${i + 1}`, { type: "thumbnail-done", timeout: "1 hour" });
      done.push(ev.payload);
    }

    const statuses = await step.do("check the children", async () =>
      Promise.all(children.map(async (id) => (await (await this.env.THUMBNAILS.get(id)).status()).status)));

    done.sort((a, b) => a.image.localeCompare(b.image));
    return { children, statuses, thumbnails: done };
  }

  private async child(p: { image: string; parentId: string }, step: WorkflowStep) {
    const thumb = await step.do("render thumbnail", async (): Promise<Thumbnail> => ({
      image: p.image,
      thumbnail: p.image.replace(/\.\w+$/, "-200.webp"),
      width: 200,
    }));
    await step.do("tell the batch", async () => {
      const parent = await this.env.THUMBNAILS.get(p.parentId);
      await parent.sendEvent({ type: "thumbnail-done", payload: thumb });
    });
    return thumb;
  }
}
