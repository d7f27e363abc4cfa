/**
 * A real webhook receiver for tests: a `Deno.serve` on a loopback port that verifies each
 * request's signature, records it, and answers as the test scripts it.
 * @module
 */
import { verifyWebhook, type WebhookVerification } from "./signature.ts";
import type { WebhookEvent } from "./webhook_sender.ts";

/** One request as the receiver saw it. */
export interface ReceivedRequest {
  readonly body: string;
  readonly signature: string;
  readonly contentType: string | null;
  readonly verification: WebhookVerification;
  /** The status it was answered with. */
  readonly status: number;
}

/** Options of {@linkcode TestReceiver.start}. */
export interface TestReceiverOptions {
  readonly secret: string;
  /** @default 0, a free port */
  readonly port?: number;
  /**
   * Answers request number `index` (from 0, in arrival order) whose signature checked out; the
   * default is 204.
   * A request with a bad signature always gets 400, as a real receiver answers.
   */
  readonly respond?: (index: number) => Response | Promise<Response>;
}

/** A running receiver; `await using` stops it. */
export class TestReceiver implements AsyncDisposable {
  /** Requests answered, in the order their answers were ready. */
  readonly requests: ReceivedRequest[] = [];
  #arrived = 0;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(options: TestReceiverOptions, listening: () => void) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen: listening },
      async (request) => {
        const index = this.#arrived++;
        const body = await request.text();
        const signature = request.headers.get("x-herald-signature") ?? "";
        const verification = verifyWebhook(options.secret, body, signature);
        const response = verification.ok
          ? await (options.respond?.(index) ?? new Response(null, { status: 204 }))
          : new Response(`bad signature: ${verification.reason}\n`, { status: 400 });
        const contentType = request.headers.get("content-type");
        this.requests.push({ body, signature, contentType, verification, status: response.status });
        return response;
      },
    );
  }

  /** Starts a receiver and resolves once it listens. */
  static async start(options: TestReceiverOptions): Promise<TestReceiver> {
    const listening = Promise.withResolvers<void>();
    const receiver = new TestReceiver(options, () => listening.resolve());
    await listening.promise;
    return receiver;
  }

  /** Requests that arrived, answered or not. */
  get arrived(): number {
    return this.#arrived;
  }

  get port(): number {
    return this.#server.addr.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/herald`;
  }

  /** The events of every request answered 2xx, in arrival order. */
  get accepted(): WebhookEvent[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300)
      .flatMap((r) => JSON.parse(r.body).events);
  }

  close(): Promise<void> {
    return this.#server.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
