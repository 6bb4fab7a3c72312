/** Reading the end of a container's log through pods/log, within a byte budget (shared by the worker and the API). */
import type { CoreV1Api } from '@kubernetes/client-node';

/**
 * At most the last `maxBytes` of a container's log. pods/log's limitBytes keeps the head, so one
 * read asks for one byte more than the budget: a log that fits (the usual case) costs that one
 * request; a longer one is read again from its last lines (tailLines sized from the line length of
 * the first read) and returned as `partial` (only an end of the log). Throws what pods/log throws.
 */
export async function readPodLogTail(
  core: CoreV1Api,
  where: { namespace: string; pod: string; container: string },
  maxBytes: number,
  /** Called before each request (the runtime counts its apiserver requests). */
  onRequest: () => void = () => {},
): Promise<{ text: string; partial: boolean }> {
  const { namespace, pod: name, container } = where;
  onRequest();
  const head = await core.readNamespacedPodLog({ name, namespace, container, limitBytes: maxBytes + 1 });
  const bytes = Buffer.byteLength(head);
  if (bytes <= maxBytes) return { text: head, partial: false };
  const lines = Math.max(1, head.split('\n').length - 1);
  const tailLines = Math.max(1, Math.floor((lines * maxBytes) / bytes));
  onRequest();
  const end = await core.readNamespacedPodLog({
    name,
    namespace,
    container,
    tailLines,
    limitBytes: 2 * maxBytes,
  });
  return { text: end, partial: true };
}
