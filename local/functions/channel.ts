/**
 * The message protocol between the local runtime's main thread and a function worker: request /
 * reply calls in both directions and one-way events, over a `MessagePort`-like endpoint. Values
 * cross by structured clone; errors cross as `{ name, message, stack }` plus any own enumerable
 * primitive fields (an SDK error's `status` and `code`), and are rebuilt as `Error`s on the other
 * side so `errorStatus()`-style checks keep working.
 */
export interface PortLike {
  postMessage(value: unknown): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
}

type Message =
  | { readonly kind: 'call'; readonly id: number; readonly method: string; readonly value: unknown }
  | { readonly kind: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly kind: 'reply'; readonly id: number; readonly ok: false; readonly error: SerializedError }
  | { readonly kind: 'event'; readonly name: string; readonly value: unknown };

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly fields: Record<string, string | number | boolean>;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value;
  }
  return { name: error.name, message: error.message, stack: error.stack, fields };
}

export function deserializeError(error: SerializedError): Error {
  const rebuilt = Object.assign(new Error(error.message), error.fields);
  rebuilt.name = error.name;
  if (error.stack) rebuilt.stack = error.stack;
  return rebuilt;
}

/** Answers a call; may return a promise (awaited) or a value. */
export type CallHandler = (value: unknown) => unknown;

export class Channel {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly handlers = new Map<string, CallHandler>();
  private readonly listeners = new Map<string, (value: unknown) => void>();
  private closedWith: Error | undefined;

  constructor(private readonly port: PortLike) {
    port.on('message', (message) => this.receive(message as Message));
  }

  /** Answers calls of `method` from the other side. */
  handle(method: string, handler: CallHandler): void {
    this.handlers.set(method, handler);
  }

  /** Receives the other side's `emit(name, …)`. */
  on(name: string, listener: (value: unknown) => void): void {
    this.listeners.set(name, listener);
  }

  call<T>(method: string, value?: unknown): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.port.postMessage({ kind: 'call', id, method, value } satisfies Message);
    });
  }

  emit(name: string, value?: unknown): void {
    if (!this.closedWith) this.port.postMessage({ kind: 'event', name, value } satisfies Message);
  }

  /** Fails every call in flight and every later one with `error` (the other side is gone). */
  close(error: Error): void {
    if (this.closedWith) return;
    this.closedWith = error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  private receive(message: Message): void {
    switch (message.kind) {
      case 'reply': {
        const waiter = this.pending.get(message.id);
        if (!waiter) return;
        this.pending.delete(message.id);
        if (message.ok) waiter.resolve(message.value);
        else waiter.reject(deserializeError(message.error));
        return;
      }
      case 'event':
        this.listeners.get(message.name)?.(message.value);
        return;
      case 'call': {
        const handler = this.handlers.get(message.method);
        const reply = (result: Message) => {
          if (!this.closedWith) this.port.postMessage(result);
        };
        if (!handler) {
          reply({ kind: 'reply', id: message.id, ok: false, error: serializeError(new Error(`no handler for ${message.method}`)) });
          return;
        }
        Promise.resolve()
          .then(() => handler(message.value))
          .then(
            (value) => reply({ kind: 'reply', id: message.id, ok: true, value }),
            (error) => reply({ kind: 'reply', id: message.id, ok: false, error: serializeError(error) }),
          );
      }
    }
  }
}
