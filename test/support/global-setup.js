/**
 * Jest global setup: runs once, before any test file.
 *
 * The AWS SDK for JavaScript v3 warns once per module registry that it will stop supporting
 * Node < 22 (`NodeVersionSupportWarning`). Jest gives every test file a fresh registry, so a run on
 * Node 20 printed the same notice once per file. Say it once here and silence the repeats; the
 * functions themselves run Node 24 on Lambda, where the SDK does not warn.
 */
module.exports = async function globalSetup() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22 && process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED !== 'true') {
    process.stderr.write(
      `note: Node ${process.versions.node}: the AWS SDK warns that its releases after January 2027 need Node >= 22 ` +
        '(the Lambda functions run Node 24); shown once, not per test file\n',
    );
  }
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
};
