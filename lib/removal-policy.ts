import { RemovalPolicy } from 'aws-cdk-lib';
import type { RemovalPolicyName } from './config';

/**
 * The one mapping from config's `removalPolicy` to CDK's, used by every stateful resource the
 * pipeline creates (table, queues, secret, key, log groups). `retain` keeps them when the stack is
 * deleted; `destroy` is for throwaway stacks.
 */
export function removalPolicyOf(name: RemovalPolicyName): RemovalPolicy {
  return name === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}
