// In-memory stand-ins for the airline, hotel, car rental and payment APIs the trip saga calls. Each
// keeps what is currently booked, so the workflow's result can show that compensation undid it all.

type Booking = { ref: string; what: string };

class Provider {
  private readonly live = new Map<string, Booking>();
  private next = 1;
  private readonly prefix: string;
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  async book(what: string): Promise<Booking> {
    const booking = { ref: `${this.prefix}-${this.next++}`, what };
    this.live.set(booking.ref, booking);
    return booking;
  }

  async cancel(ref: string): Promise<void> {
    this.live.delete(ref);
  }

  has(ref: string): boolean {
    return this.live.has(ref);
  }
}

export const airline = new Provider("FL");
export const hotels = new Provider("HT");
export const cars = new Provider("CR");
export const cards = new Provider("PAY");
