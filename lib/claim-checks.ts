import { CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CLAIM_CHECK_PREFIX } from '../contracts/queue-message';
import { PipelineConfig } from './config';
import { removalPolicyOf } from './removal-policy';

export interface ClaimChecksProps {
  /** The queue's retention (the objects must outlive every message pointing at one) and the removal policy. */
  readonly config: Pick<PipelineConfig, 'queue' | 'removalPolicy'>;
}

/**
 * Days an object under `events/` is kept: as long as a message pointing at it can still be
 * delivered after one DLQ redrive, plus a day. A standard queue's message expires counted from its
 * enqueue, and keeps that time when it moves to the DLQ, so before a redrive it lives at most
 * `max(retentionDays, dlqRetentionDays)`. A redrive (StartMessageMoveTask, the console's "start DLQ
 * redrive": on-call's way out of a bad deploy) sends it again as a new message with a new enqueue
 * time, and it may live that long again (failing once more, back in the DLQ). An object that
 * expired while its message lives would lose the event; one kept longer costs only storage of the
 * rare event over 1 MiB. A message redriven a second time may outlive its object.
 */
export function claimCheckExpirationDays(queue: PipelineConfig['queue']): number {
  return 2 * Math.max(queue.retentionDays, queue.dlqRetentionDays) + 1;
}

/**
 * The claim-check bucket: bodies of genuine events too large for an SQS message (1 MiB), stored
 * by ingest under `events/<sha256>.json` and read by the processor from the pointer it dequeues
 * (contracts/queue-message.ts). Private, TLS only, encrypted as the queues are (service-managed
 * keys), unversioned (an object is written once per body, and a rewrite is the same bytes), and
 * emptied by a lifecycle rule once no message can point at an object any more.
 */
/** The environment variable naming the bucket, set by either grant (read by the functions' handlers). */
const CLAIM_CHECK_BUCKET_ENV = 'CLAIM_CHECK_BUCKET';

export class ClaimChecks extends Construct {
  public readonly bucket: s3.Bucket;
  /** Days after which an object under `events/` expires (`claimCheckExpirationDays`). */
  public readonly expirationDays: number;

  constructor(scope: Construct, id: string, props: ClaimChecksProps) {
    super(scope, id);
    const policy = removalPolicyOf(props.config.removalPolicy);
    this.expirationDays = claimCheckExpirationDays(props.config.queue);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: false,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'ExpireClaimChecks', prefix: CLAIM_CHECK_PREFIX, expiration: Duration.days(this.expirationDays) }],
      removalPolicy: policy,
      // A throwaway stack's bucket must be emptied before CloudFormation can delete it.
      autoDeleteObjects: policy === RemovalPolicy.DESTROY,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only the ingest and reconcile roles write (PutObject on events/*) and only the process role reads (GetObject on events/*); ' +
        'each write is logged by ingest ("event enqueued" with claimCheck) and each read by the processor. A server ' +
        'access log bucket would add a second bucket to secure and expire for no question those logs cannot answer; ' +
        'CloudTrail S3 data events can be enabled account-wide if an audit trail of object access is required.',
    });
  }

  /**
   * `s3:PutObject` on `events/*`, nothing else (ingest, the reconciler); sets `CLAIM_CHECK_BUCKET`,
   * where the function puts bodies too large for an SQS message.
   */
  grantPutClaimChecks(fn: lambda.Function): iam.Grant {
    fn.addEnvironment(CLAIM_CHECK_BUCKET_ENV, this.bucket.bucketName);
    return this.grantOnEvents(fn, 's3:PutObject', 'writes each claim-checked body as a new object named by its SHA-256');
  }

  /**
   * `s3:GetObject` on `events/*` (the processor), and `s3:ListBucket` on the bucket: S3 answers
   * a GetObject of a missing key with 404 `NoSuchKey` only to a caller that may list the bucket,
   * and with 403 otherwise (docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
   * "Permissions"). The processor records a missing object once (`claim_check_missing`) and
   * retries any other error, so without the listing permission an expired object would be retried
   * into the DLQ instead. Listing reveals only content hashes. Also sets `CLAIM_CHECK_BUCKET`, the
   * one bucket the function accepts pointers to.
   */
  grantGetClaimChecks(fn: lambda.Function): iam.Grant {
    fn.addEnvironment(CLAIM_CHECK_BUCKET_ENV, this.bucket.bucketName);
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] });
    return this.grantOnEvents(fn, 's3:GetObject', 'reads the object each claim check it dequeues names');
  }

  private grantOnEvents(fn: lambda.Function, action: string, why: string): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee: fn,
      actions: [action],
      resourceArns: [this.bucket.arnForObjects(`${CLAIM_CHECK_PREFIX}*`)],
    });
    // The finding names the bucket by its logical id, as the template will.
    const bucketLogicalId = Stack.of(this).resolve((this.bucket.node.defaultChild as CfnElement).logicalId) as string;
    Validations.of(fn.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${CLAIM_CHECK_PREFIX}*]`,
      reason: `The function ${why}: object keys are content hashes, unknown until the event arrives; the wildcard is ${action} only, on this bucket's ${CLAIM_CHECK_PREFIX} prefix only.`,
    });
    return grant;
  }
}
