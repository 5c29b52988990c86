/**
 * What every AWS client of the local engines (DynamoDB Local, the SQS emulator) uses: one region
 * and static credentials. Both engines accept any; fixing them here means a local client never
 * picks up, or sends, real ones. Kept apart from the engines' start-up code so that tools which
 * only talk to a running local pipeline (the on-call scripts) do not load DynamoDB Local.
 */

/** Static credentials for the local engines. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** The region every local client and engine uses. */
export const LOCAL_REGION = 'us-east-1';
