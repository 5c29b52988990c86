import { synthPipeline } from '../../support/synth';

/*
 * `removalPolicy` on the whole stack: `retain` keeps every resource that holds state and protects
 * the table from deletion; `destroy` leaves nothing behind that CloudFormation would keep or
 * refuse to delete. Read from the template and counted, so a resource of these types added later
 * without the setting fails here.
 */

/** The resource types that hold state of their own: each must follow removalPolicy. */
const STATEFUL = [
  'AWS::DynamoDB::Table',
  'AWS::SQS::Queue',
  'AWS::S3::Bucket',
  'AWS::Logs::LogGroup',
  'AWS::SecretsManager::Secret',
  'AWS::KMS::Key',
];

type Resource = { Type: string; DeletionPolicy?: string; UpdateReplacePolicy?: string; Properties?: Record<string, unknown> };

function resources(removalPolicy: 'retain' | 'destroy'): Resource[] {
  return Object.values(synthPipeline({ removalPolicy }).template.toJSON().Resources as Record<string, Resource>);
}

describe('removalPolicy', () => {
  it('retain: keeps every stateful resource (on deletion and on replacement) and turns on the table deletion protection', () => {
    const all = resources('retain');
    const stateful = all.filter((r) => STATEFUL.includes(r.Type));
    // The table, the event queue, its DLQ, the publisher DLQ, the bucket, the four functions' and the access log groups, the secret, the key.
    expect(stateful.map((r) => r.Type).sort()).toEqual(
      [
        'AWS::DynamoDB::Table',
        ...Array(3).fill('AWS::SQS::Queue'),
        'AWS::S3::Bucket',
        ...Array(5).fill('AWS::Logs::LogGroup'),
        'AWS::SecretsManager::Secret',
        'AWS::KMS::Key',
      ].sort(),
    );
    for (const r of stateful) expect([r.Type, r.DeletionPolicy, r.UpdateReplacePolicy]).toEqual([r.Type, 'Retain', 'Retain']);
    expect(stateful.find((r) => r.Type === 'AWS::DynamoDB::Table')?.Properties?.DeletionProtectionEnabled).toBe(true);
  });

  it('destroy: deletes every stateful resource, the table without deletion protection, and retains nothing', () => {
    const all = resources('destroy');
    for (const r of all) {
      expect([r.Type, r.DeletionPolicy, r.UpdateReplacePolicy]).not.toContain('Retain');
      expect([r.Type, r.DeletionPolicy]).not.toContain('RetainExceptOnCreate');
      expect([r.Type, r.DeletionPolicy]).not.toContain('Snapshot');
    }
    for (const r of all.filter((r) => STATEFUL.includes(r.Type))) expect([r.Type, r.DeletionPolicy]).toEqual([r.Type, 'Delete']);
    expect(all.filter((r) => r.Properties?.DeletionProtectionEnabled === true)).toEqual([]);
    // The bucket is emptied first, or CloudFormation could not delete it.
    expect(all.filter((r) => r.Type === 'Custom::S3AutoDeleteObjects')).toHaveLength(1);
  });
});
