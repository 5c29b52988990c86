import { ArnFormat, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { RemovalPolicyName } from './config';
import { removalPolicyOf } from './removal-policy';

export interface LiveKitKeysProps {
  /**
   * An existing secret: an `ISecret`, or its name or ARN (config `livekit.existingSecretName`).
   * @default - a secret is created, holding `{}`
   */
  readonly existing?: secretsmanager.ISecret | string;
  /** What happens to a created secret when the stack is deleted. */
  readonly removalPolicy: RemovalPolicyName;
}

/**
 * A secret by name, partial ARN or complete ARN (a complete ARN ends in the six random characters
 * Secrets Manager appends to the name).
 */
export function importSecret(scope: Construct, id: string, nameOrArn: string, encryptionKeyArn?: string): secretsmanager.ISecret {
  if (encryptionKeyArn !== undefined) return importEncryptedSecret(scope, id, nameOrArn, encryptionKeyArn);
  if (!nameOrArn.startsWith('arn:')) return secretsmanager.Secret.fromSecretNameV2(scope, id, nameOrArn);
  return /-[A-Za-z0-9]{6}$/.test(nameOrArn)
    ? secretsmanager.Secret.fromSecretCompleteArn(scope, id, nameOrArn)
    : secretsmanager.Secret.fromSecretPartialArn(scope, id, nameOrArn);
}

/**
 * A secret under a customer managed KMS key, imported with its key so `grantReadKeys` can grant
 * `kms:Decrypt`. By name, it is the partial ARN (Secrets Manager appends six characters), which
 * grants as `fromSecretNameV2` does: on `<name>-??????`.
 */
function importEncryptedSecret(scope: Construct, id: string, nameOrArn: string, encryptionKeyArn: string): secretsmanager.ISecret {
  const encryptionKey = kms.Key.fromKeyArn(scope, `${id}Key`, encryptionKeyArn);
  const arn = nameOrArn.startsWith('arn:')
    ? nameOrArn
    : Stack.of(scope).formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: nameOrArn,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
  return /^arn:.*-[A-Za-z0-9]{6}$/.test(nameOrArn)
    ? secretsmanager.Secret.fromSecretAttributes(scope, id, { secretCompleteArn: arn, encryptionKey })
    : secretsmanager.Secret.fromSecretAttributes(scope, id, { secretPartialArn: arn, encryptionKey });
}

/**
 * Lets `grantee` read the keys secret: `grantRead`, and, for a secret under a customer managed KMS
 * key it carries (`Secret.fromSecretAttributes(..., { encryptionKey })`), `kms:Decrypt` on that key
 * through Secrets Manager only. `grantRead` asks the key for that grant, which an imported key
 * silently cannot give (its policy is not ours to change): every read would fail `AccessDenied`,
 * and ingest answer 503 forever. The role's own policy can; it takes effect when the key policy
 * lets IAM policies of the account grant use of the key, as the default key policy does.
 */
export function grantReadKeys(secret: secretsmanager.ISecret, grantee: iam.IGrantable): void {
  secret.grantRead(grantee);
  const key = secret.encryptionKey;
  if (!key) return;
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(secret).region}.amazonaws.com` } },
    }),
  );
}

/**
 * The Secrets Manager secret holding the LiveKit API key/secret pairs, `{"<apiKey>": "<apiSecret>"}`,
 * several at once during a rotation. Either an existing secret named in config, or one created
 * here holding `{}`: the stack cannot know your LiveKit secret, and until you put it in, ingest
 * answers 503 (LiveKit retries) rather than 401 (LiveKit would drop the event).
 */
export class LiveKitKeys extends Construct {
  public readonly secret: secretsmanager.ISecret;
  /** True when the stack created the secret (it then needs filling in after deploy). */
  public readonly created: boolean;

  constructor(scope: Construct, id: string, props: LiveKitKeysProps) {
    super(scope, id);
    const existing = props.existing;
    this.created = existing === undefined;
    if (existing === undefined) {
      this.secret = new secretsmanager.Secret(this, 'Secret', {
        description: 'LiveKit API key/secret pairs accepted by the webhook pipeline: {"<apiKey>": "<apiSecret>", ...}',
        // An empty JSON object is not a secret; the real pairs are put in after deploy.
        secretStringValue: SecretValue.unsafePlainText('{}'),
        removalPolicy: removalPolicyOf(props.removalPolicy),
      });
      Validations.of(this.secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'LiveKit API keys are issued and revoked in LiveKit (Cloud console or livekit.yaml), not by a Secrets Manager ' +
          'rotation Lambda; rotation is done by adding the new pair next to the old one, then removing the old one (README).',
      });
    } else {
      this.secret = typeof existing === 'string' ? importSecret(this, 'Secret', existing) : existing;
    }
  }
}
