// The tests' name for the virtual clock (src/core/virtual-clock.ts).
export { VirtualClock as FakeClock } from "../core/virtual-clock.ts";
