// The SDK's error types. Callers switch on the class (or `code`); every error
// the SDK throws is a SplitflareError, with the underlying failure as `cause`.
import { type Problem, type ProblemSlug, slugOf } from '../protocol/problem.js';

export type SplitflareErrorCode =
  | 'problem'
  | 'integrity'
  | 'timeout'
  | 'aborted'
  | 'transport'
  | 'manifest'
  | 'input'
  | 'protocol'
  | 'runtime';

export class SplitflareError extends Error {
  readonly code: SplitflareErrorCode;
  constructor(code: SplitflareErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The server answered with an error status; fields come from its problem+json body. */
export class ProblemError extends SplitflareError {
  readonly status: number;
  readonly type: string;
  /** The stable slug of a splitflare problem type; undefined for foreign types. */
  readonly slug: ProblemSlug | undefined;
  readonly title: string;
  readonly detail: string | undefined;
  readonly problem: Problem;
  /** Attempts made before giving up (more than 1 when a transient status persisted). */
  readonly attempts: number;
  /** The server's id of the request (its log line has it), when the problem carried one. */
  readonly requestId: string | undefined;
  constructor(problem: Problem, attempts = 1) {
    const id = typeof problem.requestId === 'string' ? ` (request ${problem.requestId})` : '';
    super('problem', `${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}${id}`);
    this.status = problem.status;
    this.type = problem.type;
    this.slug = slugOf(problem.type);
    this.title = problem.title;
    this.detail = problem.detail;
    this.problem = problem;
    this.attempts = attempts;
    this.requestId = typeof problem.requestId === 'string' ? problem.requestId : undefined;
  }
}

/** A downloaded artifact does not match the digest or size the manifest promises. */
export class IntegrityError extends SplitflareError {
  constructor(
    readonly artifact: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super('integrity', `${artifact}: expected ${expected}, got ${actual}`);
  }
}

/** The operation ran past the client's `timeoutMs`. */
export class TimeoutError extends SplitflareError {
  constructor(
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super('timeout', `timed out after ${timeoutMs} ms`, options);
  }
}

/** The caller's AbortSignal fired; its reason is the `cause`. */
export class AbortError extends SplitflareError {
  constructor(options?: ErrorOptions) {
    super('aborted', 'aborted by the caller', options);
  }
}

/** The network failed (no HTTP answer) on every attempt. */
export class TransportError extends SplitflareError {
  constructor(
    message: string,
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super('transport', message, options);
  }
}

/** The manifest is malformed, or does not fit what the client was asked to do. */
export class ManifestError extends SplitflareError {
  constructor(message: string, options?: ErrorOptions) {
    super('manifest', message, options);
  }
}

/** The caller's batch does not fit the model's input. */
export class InputError extends SplitflareError {
  constructor(message: string) {
    super('input', message);
  }
}

/** The server answered 2xx with something the client cannot use. */
export class ProtocolError extends SplitflareError {
  constructor(message: string, options?: ErrorOptions) {
    super('protocol', message, options);
  }
}

/** onnxruntime failed to load or run the head. */
export class RuntimeError extends SplitflareError {
  constructor(message: string, options?: ErrorOptions) {
    super('runtime', message, options);
  }
}
