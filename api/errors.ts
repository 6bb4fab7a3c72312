/**
 * Every error the API answers with: a stable code, its HTTP status, and what it means. Bodies are
 * `{code, message, details}`; clients branch on `code`, never on the message.
 */
export const API_ERRORS = {
  bad_request: { status: 400, description: 'The request is malformed (bad JSON, bad query parameter).' },
  validation_failed: { status: 400, description: 'The body failed validation; details list each field.' },
  spec_invalid: {
    status: 400,
    description: 'The function spec is invalid; details list file:line:column problems.',
  },
  unauthorized: { status: 401, description: 'No valid API key was sent (Authorization: Bearer <key>).' },
  forbidden: { status: 403, description: "The API key's role does not allow this." },
  cross_origin_refused: {
    status: 403,
    description:
      'A browser sent the request from another origin (Origin or Sec-Fetch-Site): the API serves no other origin.',
  },
  route_not_found: { status: 404, description: 'No such route.' },
  function_not_found: { status: 404, description: 'No function with that name has been applied.' },
  execution_not_found: { status: 404, description: 'No execution with that id.' },
  schedule_not_found: { status: 404, description: 'The function has no schedule of that name.' },
  attempt_not_found: {
    status: 404,
    description: 'The execution has no such attempt, or its log is not kept here.',
  },
  method_not_allowed: {
    status: 405,
    description: 'The route exists but not with this method; the Allow header lists those it takes.',
  },
  name_mismatch: { status: 409, description: 'The path names a different function than metadata.name.' },
  execution_not_running: { status: 409, description: 'The execution has already ended.' },
  too_many_to_cancel: {
    status: 409,
    description:
      'The function has more running executions than one delete may cancel (PONTOON_API_MAX_DELETE_CANCELS); nothing was deleted.',
  },
  execution_not_failed: {
    status: 409,
    description:
      'Only a failed execution (a dead letter) can be redriven; this one is running or ended otherwise.',
  },
  redrive_id_taken: {
    status: 409,
    description:
      "The redrive's id (<execution id>.redrive) is held by an ordinary execution started with that idempotency key; start the function again with another key instead.",
  },
  spec_version_changed: {
    status: 409,
    description:
      'sameVersion was asked, but the spec version the original ran is not kept any more (or it read none); redrive without it to run the current version.',
  },
  redrive_too_large: {
    status: 400,
    description:
      'More dead letters match than one redrive may start (PONTOON_API_MAX_BACKFILL_FIRES, the backfill cap); narrow the filter.',
  },
  backfill_too_large: {
    status: 400,
    description:
      'The backfill range holds more fires than one request may start (PONTOON_API_MAX_BACKFILL_FIRES); split it.',
  },
  payload_undecodable: {
    status: 422,
    description:
      'The codec server cannot decrypt a payload: it names a key this API does not hold (removed after a rotation), or it does not verify; details.keyId names the key.',
  },
  payload_too_large: { status: 413, description: 'The body is over the limit stated in the message.' },
  unsupported_media_type: {
    status: 415,
    description: 'Use application/json (or application/yaml for specs).',
  },
  host_not_allowed: {
    status: 421,
    description:
      'The Host header does not name this server (DNS rebinding); call it by its address or a name in PONTOON_API_ALLOWED_HOSTS.',
  },
  too_many_requests: {
    status: 429,
    description: 'Too many wrong API keys from this address in a minute; Retry-After says when to try again.',
  },
  temporal_unavailable: { status: 503, description: 'Temporal cannot be reached.' },
  worker_unavailable: {
    status: 503,
    description:
      'No Pontoon worker polls the task queue, so nothing can read specs or run executions; start one (pontoon worker).',
  },
  internal_error: { status: 500, description: 'An unexpected error; the server log has the details.' },
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
  get status(): number {
    return API_ERRORS[this.code].status;
  }
  toJSON() {
    return {
      code: this.code,
      message: this.message,
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }
}
