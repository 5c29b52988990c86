import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { assertJavaOnPath, JavaMissingError, startDynamoDbLocal } from '../../../local/engines/dynamodb-local';

/*
 * A machine without Java gets a message that says what is missing and how to install it, not
 * `spawn java ENOENT`.
 */
describe('the Java check before DynamoDB Local starts', () => {
  it('refuses to start DynamoDB Local without java on the PATH, saying how to install it', async () => {
    const saved = process.env.PATH;
    process.env.PATH = mkdtempSync(`${tmpdir()}/no-java-`);
    try {
      await expect(startDynamoDbLocal()).rejects.toThrow(JavaMissingError);
      await expect(startDynamoDbLocal()).rejects.toThrow(
        /needs a Java runtime \(17 or newer\)[\s\S]*apt-get install openjdk-17-jre-headless[\s\S]*brew install openjdk@17[\s\S]*java -version/,
      );
    } finally {
      process.env.PATH = saved;
    }
  });

  it('finds java on the PATH', () => {
    expect(() => assertJavaOnPath(process.env.PATH)).not.toThrow();
    const javaDir = dirname(require('node:child_process').execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim());
    expect(() => assertJavaOnPath(`/nonexistent:${javaDir}`)).not.toThrow();
    expect(() => assertJavaOnPath('')).toThrow(JavaMissingError);
  });
});
