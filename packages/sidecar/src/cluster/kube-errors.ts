// The message of an error from the Kubernetes API client: the API's own Status message when the
// body carries one, so logs say what the API server said. Pure.
export function errMessage(err: unknown): string {
  if (err && typeof err === 'object') {
    const body = (err as { body?: unknown }).body;
    if (typeof body === 'string') {
      try { return (JSON.parse(body) as { message?: string }).message ?? body; } catch { return body; }
    }
    if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
    if (err instanceof Error) return err.message;
  }
  return String(err);
}
