// Data loading for pages: useLoad runs an async function when its keys change (and again on reload()),
// usePoll repeats it on an interval while `live` holds. Results of a superseded load are dropped.
import { useCallback, useLayoutEffect, useRef, useState } from "preact/hooks";

export interface Loaded<T> {
  data?: T | undefined;
  error?: Error | undefined;
  loading: boolean;
  reload(): void;
}

export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, keys: unknown[], poll?: { ms: number; live: boolean }): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  // a layout effect: the request starts right after the render that needs it, not after the next
  // paint (Preact runs plain effects after a frame, up to 100 ms later when none comes)
  useLayoutEffect(() => {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async (first: boolean) => {
      if (first) setState((s) => ({ ...s, loading: true }));
      try {
        const data = await fnRef.current(ac.signal);
        if (!ac.signal.aborted) setState({ data, loading: false });
      } catch (e) {
        if (!ac.signal.aborted) setState((s) => ({ data: first ? undefined : s.data, error: e as Error, loading: false }));
      }
      if (!ac.signal.aborted && poll?.live) timer = setTimeout(() => void run(false), poll.ms);
    };
    void run(true);
    return () => {
      ac.abort();
      clearTimeout(timer);
    };
  }, [...keys, tick, poll?.live, poll?.ms]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
