/**
 * Test-only workflow: calls sendNotifications the way executeFunction will, with a quick retry
 * policy, so the notify test runs the real activity through a real Temporal server.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.ts';
import type { NotificationRequest, NotifyResult } from '../../activities/notify.ts';

const { sendNotifications } = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: {
    initialInterval: '200ms',
    backoffCoefficient: 1,
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['NotifyRejected', 'NotifySecretMissing'],
  },
});

export async function notifyProbe(req: NotificationRequest): Promise<NotifyResult> {
  return await sendNotifications(req);
}
