// Parses s.yaml exactly as Serverless Devs' `s` does (@serverless-devs/parse-spec,
// preview mode: no credentials needed) for the commands users run, with
// STOPPER_* unset, and prints what each resource resolves to and which of its
// actions run. Run by scripts/lint-deploy.sh.
const path = require('path');
const ParseSpec = require('@serverless-devs/parse-spec').default;

const file = path.resolve(process.argv[2] || 's.yaml');
const commands = [['deploy'], ['info'], ['remove'], ['logs'], ['local', 'invoke'], ['plan']];
for (const k of Object.keys(process.env)) if (k.startsWith('STOPPER_')) delete process.env[k];

(async () => {
  let failed = false;
  for (const argv of commands) {
    try {
      const spec = new ParseSpec(file, { argv, isPreview: true, logger: { warnOnce() {}, tips() {}, debug() {}, info() {}, warn: console.warn } });
      const out = await spec.start();
      for (const step of out.steps) {
        const actions = spec.parseActions(step.actions || {}, 'PROJECT').map(a => `${a.hookType}:${a.value}`);
        const env = step.props.environmentVariables || {};
        for (const [k, v] of Object.entries(env)) {
          if (typeof v !== 'string') throw new Error(`${step.projectName}: environmentVariables.${k} is ${typeof v}, FC wants strings`);
          if (v.includes('${')) throw new Error(`${step.projectName}: environmentVariables.${k} = ${v} was not resolved`);
        }
        console.log(`s ${argv.join(' ')}: ${step.projectName} runtime=${step.props.runtime} logConfig=${JSON.stringify(step.props.logConfig)} ` +
          `env=${JSON.stringify(env)} triggers=${(step.props.triggers || []).map(t => t.triggerName + '/' + t.triggerType).join(',')} actions=${JSON.stringify(actions)}`);
      }
    } catch (e) {
      failed = true;
      console.error(`s ${argv.join(' ')}: ${e.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
