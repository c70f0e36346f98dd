// Parses s.yaml exactly as Serverless Devs' `s` does (@serverless-devs/parse-spec,
// preview mode: no credentials needed) for the commands users run, and checks
// what a first deployment gets. Run by scripts/lint-deploy.sh.
//
// s.yaml is parsed from a copy in a temporary directory, so that an
// operator's own .env beside the real s.yaml plays no part. Cases:
//   - no .env and no STOPPER_* in the environment: every command fails,
//     naming the missing variable (a secret never deploys silently empty);
//   - .env.example as committed: fails the same way until it is filled in;
//   - a filled-in .env: every command resolves, every environment variable
//     is a string, STOPPER_DRY_RUN is "true" and STOPPER_NOTIFY_DRY_RUN
//     "false", `none` deploys an empty secret, and the instance limit is set;
//   - a variable set in the shell wins over .env.
// It also checks that .env.example lists exactly the variables s.yaml reads.
const fs = require('fs');
const os = require('os');
const path = require('path');
const ParseSpec = require('@serverless-devs/parse-spec').default;

const file = path.resolve(process.argv[2] || 's.yaml');
const example = path.join(path.dirname(file), '.env.example');
const commands = [['deploy'], ['info'], ['remove'], ['logs'], ['local', 'invoke'], ['plan']];
const logger = { warnOnce() {}, tips() {}, debug() {}, info() {}, warn: console.warn };

// parse-spec loads .env into process.env, which outlives one parse: each case
// starts from an environment without STOPPER_* and sets what it needs.
function resetEnv(vars = {}) {
  for (const k of Object.keys(process.env)) if (k.startsWith('STOPPER_')) delete process.env[k];
  Object.assign(process.env, vars);
}

// The names s.yaml reads with env('NAME'), comments left out, and those it
// reads with a default.
function envNames(text) {
  const names = new Set();
  const defaulted = new Set();
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('#')) continue;
    for (const m of line.matchAll(/env\('([A-Z0-9_]+)'(\s*,)?/g)) {
      names.add(m[1]);
      if (m[2]) defaulted.add(m[1]);
    }
  }
  return { names, defaulted };
}

// The keys .env.example assigns.
function exampleNames(text) {
  const names = new Set();
  for (const line of text.split('\n')) {
    const m = line.match(/^([A-Z0-9_]+)=/);
    if (m) names.add(m[1]);
  }
  return names;
}

function workDir(dotenv) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'check-s-yaml-'));
  fs.copyFileSync(file, path.join(dir, 's.yaml'));
  if (dotenv !== undefined) fs.writeFileSync(path.join(dir, '.env'), dotenv);
  return dir;
}

async function parse(dir, argv) {
  const spec = new ParseSpec(path.join(dir, 's.yaml'), { argv, isPreview: true, logger });
  const out = await spec.start();
  return { spec, steps: out.steps };
}

// Every command must fail, and the error must name an env() variable.
async function expectLoudFailure(name, dir) {
  const failures = [];
  for (const argv of commands) {
    resetEnv();
    try {
      await parse(dir, argv);
      failures.push(`${name}: s ${argv.join(' ')} resolved; it must stop on the missing secret`);
    } catch (e) {
      if (!/env\('STOPPER_[A-Z0-9_]+'\) not found/.test(e.message)) {
        failures.push(`${name}: s ${argv.join(' ')} failed, but not for the missing secret: ${e.message}`);
      } else {
        console.log(`${name}: s ${argv.join(' ')} refuses: ${e.message.match(/env\('[A-Z0-9_]+'\) not found/)[0]}`);
      }
    }
  }
  return failures;
}

// checkStep returns what is wrong with one resolved resource.
function checkStep(step, want) {
  const problems = [];
  const env = step.props.environmentVariables || {};
  for (const [k, v] of Object.entries(env)) {
    if (typeof v !== 'string') problems.push(`environmentVariables.${k} is ${typeof v}, FC wants strings`);
    else if (v.includes('${')) problems.push(`environmentVariables.${k} = ${v} was not resolved`);
  }
  for (const [k, v] of Object.entries(want)) {
    if (env[k] !== v) problems.push(`environmentVariables.${k} is ${JSON.stringify(env[k])}, want ${JSON.stringify(v)}`);
  }
  const limit = step.props.concurrencyConfig && step.props.concurrencyConfig.reservedConcurrency;
  if (!Number.isInteger(limit) || limit < 1) {
    problems.push(`concurrencyConfig.reservedConcurrency is ${JSON.stringify(limit)}, want a whole number of at least 1 (the bound on concurrent sweeps)`);
  }
  return problems;
}

async function expectResolved(name, dir, shell, want) {
  const failures = [];
  for (const argv of commands) {
    resetEnv(shell);
    try {
      const { spec, steps } = await parse(dir, argv);
      for (const step of steps) {
        const problems = checkStep(step, want);
        failures.push(...problems.map(p => `${name}: s ${argv.join(' ')}: ${step.projectName}: ${p}`));
        const actions = spec.parseActions(step.actions || {}, 'PROJECT').map(a => `${a.hookType}:${a.value}`);
        if (argv[0] !== 'deploy') {
          console.log(`${name}: s ${argv.join(' ')}: ${step.projectName} resolves, actions=${JSON.stringify(actions)}`);
          continue;
        }
        const env = step.props.environmentVariables || {};
        const shown = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, /SECRET|TOKEN|URL/.test(k) && v ? '<set>' : v]));
        console.log(`${name}: s ${argv.join(' ')}: ${step.projectName} runtime=${step.props.runtime} logConfig=${JSON.stringify(step.props.logConfig)} ` +
          `concurrencyConfig=${JSON.stringify(step.props.concurrencyConfig)} env=${JSON.stringify(shown)} ` +
          `triggers=${(step.props.triggers || []).map(t => t.triggerName + '/' + t.triggerType).join(',')} actions=${JSON.stringify(actions)}`);
      }
    } catch (e) {
      failures.push(`${name}: s ${argv.join(' ')}: ${e.message}`);
    }
  }
  return failures;
}

(async () => {
  const failures = [];
  const text = fs.readFileSync(file, 'utf8');
  const { names: read, defaulted } = envNames(text);
  for (const n of defaulted) failures.push(`s.yaml reads ${n} with a default: a shell without it would deploy the default silently`);
  const listed = exampleNames(fs.readFileSync(example, 'utf8'));
  for (const n of read) if (!listed.has(n)) failures.push(`.env.example does not list ${n}, which s.yaml reads`);
  for (const n of listed) if (!read.has(n)) failures.push(`.env.example lists ${n}, which s.yaml does not read`);

  const secret = 'check-s-yaml-secret-0123456789abcdef';
  const filled = [
    `STOPPER_WEBHOOK_SECRET=${secret}`,
    'STOPPER_WEBHOOK_TOKEN=none',
    'STOPPER_NOTIFY_URL=https://notify.invalid/hook',
    'STOPPER_NOTIFY_SECRET=none',
  ].join('\n') + '\n';
  const want = {
    STOPPER_DRY_RUN: 'true',
    STOPPER_NOTIFY_DRY_RUN: 'false',
    STOPPER_WEBHOOK_SECRET: secret,
    STOPPER_WEBHOOK_TOKEN: '',
    STOPPER_NOTIFY_URL: 'https://notify.invalid/hook',
    STOPPER_NOTIFY_SECRET: '',
  };
  const dirs = [workDir(), workDir(fs.readFileSync(example, 'utf8')), workDir(filled)];
  try {
    failures.push(...await expectLoudFailure('no .env', dirs[0]));
    failures.push(...await expectLoudFailure('.env.example as committed', dirs[1]));
    failures.push(...await expectResolved('filled .env', dirs[2], {}, want));
    failures.push(...await expectResolved('shell over .env', dirs[2], { STOPPER_WEBHOOK_SECRET: secret + '-shell' },
      { ...want, STOPPER_WEBHOOK_SECRET: secret + '-shell' }));
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  for (const f of failures) console.error(f);
  process.exit(failures.length ? 1 : 0);
})();
