// A saga with rollback handlers (blog.cloudflare.com/rollbacks-for-workflows/ and the step.do
// rollback option in developers.cloudflare.com/workflows/build/workers-api/): a trip is booked as
// flight, hotel, car and payment, each step.do with the compensation that undoes it. When the
// workflow fails, the engine runs the handlers of every step that started, newest first — the
// failing step's too, with output undefined. A terminate({ rollback: true }) runs them as well.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import { airline, cards, cars, hotels } from "./services.ts";

type Params = { traveler: string; city: string; failAt?: "hotel" | "car" | "payment" };

export class TripBooking extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const { traveler = "Kim", city = "Lisbon", failAt } = event.payload;
    const unavailable = (what: string) => {
      if (failAt === what) throw new NonRetryableError(`no ${what} available in ${city}`, "Unavailable");
    };

    const flight = await step.do("reserve flight", async () => airline.book(`flight to ${city} for ${traveler}`), {
      rollback: async ({ output }) => {
        if (!output) return; // the reservation never happened
        await airline.cancel(output.ref);
        console.log(`rollback: cancelled flight ${output.ref}`);
      },
    });

    const hotel = await step.do("reserve hotel", async () => {
      unavailable("hotel");
      return hotels.book(`3 nights in ${city}`);
    }, {
      // the step that failed is rolled back too: it may have half-happened, so output can be undefined
      rollback: async ({ output, error }) => {
        if (!output) {
          console.log(`rollback: no hotel booking to cancel (${(error as Error).message})`);
          return;
        }
        await hotels.cancel(output.ref);
        console.log(`rollback: cancelled hotel ${output.ref}`);
      },
      rollbackConfig: { retries: { limit: 3, delay: "5 seconds", backoff: "exponential" }, timeout: "1 minute" },
    });

    const car = await step.do("reserve car", async () => {
      unavailable("car");
      return cars.book(`compact car in ${city}`);
    }, {
      rollback: async ({ output, ctx }) => {
        if (output) await cars.cancel(output.ref);
        console.log(`rollback: ${output ? `cancelled car ${output.ref}` : "no car booking to cancel"} (step "${ctx.step.name}", attempt ${ctx.attempt})`);
      },
    });

    // the traveler confirms the itinerary; no answer within a day fails the workflow and undoes the bookings
    await step.waitForEvent("wait for the traveler to confirm", { type: "confirm", timeout: "1 day" });

    const payment = await step.do("charge card", async () => {
      unavailable("payment");
      return cards.book(`charge for ${flight.ref}, ${hotel.ref}, ${car.ref}`);
    }, {
      rollback: async ({ output }) => {
        if (output) await cards.cancel(output.ref);
        console.log(`rollback: ${output ? `refunded ${output.ref}` : "nothing was charged"}`);
      },
    });

    // nothing to undo for an e-mail: no rollback handler
    await step.do("email itinerary", async () => `sent to ${traveler}`);

    return {
      traveler,
      bookings: [flight.ref, hotel.ref, car.ref, payment.ref],
      stillBooked: [airline.has(flight.ref), hotels.has(hotel.ref), cars.has(car.ref), cards.has(payment.ref)],
    };
  }
}
