/**
 * Test-only workflow: calls sendNotifications the way executeFunction will, with a quick retry
 * policy, so the notify test runs the real activity through a real Temporal server.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.ts';
import type { NotificationRequest, NotifyResult } from '../../activities/notify.ts';
import { NOTIFY_NON_RETRYABLE } from '../../core/failures.ts';

const { sendNotifications } = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: {
    initialInterval: '200ms',
    backoffCoefficient: 1,
    maximumAttempts: 5,
    // The workflows' own list (it was copied here and missed NotifyDestinationRefused).
    nonRetryableErrorTypes: NOTIFY_NON_RETRYABLE,
  },
});

export async function notifyProbe(req: NotificationRequest): Promise<NotifyResult> {
  return await sendNotifications(req);
}
