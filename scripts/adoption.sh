#!/usr/bin/env bash
# Adoption as users meet it, outside this repository, with the packed package and real installs from the npm registry.
#
# For each set of versions (ADOPTION_SETS, default "newest oldest"):
#   newest  aws-cdk-lib, constructs and the aws-cdk CLI as published the day this runs (what `cdk init` gives a new user)
#   oldest  the lowest versions our peer ranges allow (aws-cdk-lib and constructs), with our own aws-cdk CLI
# and each Node major (ADOPTION_NODES, default "20 22 24"; other majors come from the npm package node@N):
#   1. `cdk init app --language typescript`, the tarball installed, a NightshiftPipeline in its stack and a Jest test of
#      the CDK's usual kind: the project's unchanged `npm test`, `npx cdk synth` (its own app command) and
#      `nightshift local`; once more under ts-jest and ts-node (TypeScript 5, CommonJS); cdk-nag's findings on
#      Nightshift's resources fail the synth by rule and path while the user's own resources are left alone; a bad
#      config ends the synth with one clean error naming the field.
#   2. `nightshift init`: `npm install`, `npm test`, `npx cdk synth`, `npx nightshift local`.
# Prints a table of what ran and each project's installed size. Exits non-zero on the first failure, saying where.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/nightshift-adoption-XXXXXX")"
trap 'rm -rf "$work"' EXIT
export NO_COLOR=1 POWERTOOLS_LOG_LEVEL=ERROR npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
sets="${ADOPTION_SETS:-newest oldest}"
nodes="${ADOPTION_NODES:-20 22 24}"
here_major="$(node -p 'process.versions.node.split(".")[0]')"
results="$work/results.txt"
step() { printf '\nadoption: %s\n' "$*"; }
# Runs a command on Node major $1: this machine's node, or the npm package node@N's binary first on the PATH.
on_node() { local major=$1; shift; if [ "$major" = "$here_major" ]; then "$@"; else npx -y -p "node@$major" -- "$@"; fi; }
# Runs a command quietly into a log; on failure prints the log and says what failed.
quietly() { local log=$1 what=$2; shift 2; if ! "$@" > "$log" 2>&1; then tail -60 "$log"; echo "adoption FAILED: $what" >&2; exit 1; fi; }
record() { printf '%-16s %-10s %-8s %-46s %s\n' "$1" "$2" "$3" "$4" "$5" >> "$results"; }
# Reads a peer range's lowest version (^2.276.0 -> 2.276.0).
lowest() { node -e "console.log(require('$repo/package.json').peerDependencies['$1'].replace(/^[~^>=]+/, ''))"; }

step "packing"
cd "$repo"
npm pack --pack-destination "$work" --json > "$work/pack.json" 2> "$work/pack.log" || { cat "$work/pack.log"; exit 1; }
tarball="$work/$(node -p "require('$work/pack.json')[0].filename")"
node -e "const p = require('$work/pack.json')[0]; console.log('tarball ' + p.filename + ': ' + p.entryCount + ' files, ' + (p.size / 1024).toFixed(0) + ' kB packed, ' + (p.unpackedSize / 1024).toFixed(0) + ' kB unpacked')"
printf '%-16s %-10s %-8s %-46s %s\n' "path" "cdk-lib" "node" "step" "result" > "$results"

# The agent, config, stack and test a user writes into a `cdk init` project.
write_cdk_project() {
  mkdir -p agents
  cat > agents/scout.ts <<'EOF'
import type { AgentContext } from 'nightshift';

export async function work(ctx: AgentContext): Promise<string> {
  await ctx.memory.put('notes', 'last', { slot: ctx.invocation.scheduledTime });
  await ctx.emit({ slot: ctx.invocation.scheduledTime });
  return 'noted';
}
EOF
  cat > agents/editor.ts <<'EOF'
import type { AgentContext } from 'nightshift';

export async function work(ctx: AgentContext): Promise<string> {
  const note = await ctx.memory.read<{ slot: string }>('notes', 'last');
  await ctx.memory.put('drafts', 'latest', { from: note?.slot ?? 'nothing yet' });
  await ctx.emit({ edited: ctx.invocation.scheduledTime });
  return 'edited';
}
EOF
  cat > nightshift.config.ts <<'EOF'
import { definePipeline } from 'nightshift';

export default definePipeline({
  name: 'cdkapp',
  stage: 'dev',
  agents: [
    { id: 'scout', entry: 'agents/scout.ts', memory: { writes: ['notes'] }, schedules: [{ cron: '0 6 * * *' }], breaker: { maxOutputs: 5, windowMinutes: 60 } },
    { id: 'editor', entry: 'agents/editor.ts', upstream: ['scout'], memory: { reads: ['notes'], writes: ['drafts'] }, schedules: [{ cron: '0 7 * * *' }], breaker: { maxOutputs: 5, windowMinutes: 60 } },
  ],
  breaker: { maxOutputs: 20, windowMinutes: 60 },
});
EOF
  local stack test
  stack="$(ls lib/*-stack.ts)"
  test="$(ls test/*.test.ts)"
  node -e "
const fs = require('fs');
const stackFile = '$stack';
let s = fs.readFileSync(stackFile, 'utf8');
s = s.replace(\"import { Construct } from 'constructs';\", \"import { Construct } from 'constructs';\nimport { NightshiftPipeline } from 'nightshift/cdk';\nimport pipeline from '../nightshift.config';\");
s = s.replace('// The code that defines your stack goes here', \"new NightshiftPipeline(this, 'Pipeline', { pipeline });\");
if (!s.includes('new NightshiftPipeline')) throw new Error('the generated stack changed shape: ' + s);
fs.writeFileSync(stackFile, s);
const className = /export class (\w+)/.exec(s)[1];
const module = require('path').basename(stackFile, '.ts');
fs.writeFileSync('$test', \`import * as cdk from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { \${className} } from '../lib/\${module}';

test('the pipeline schedules its agents in the stack', () => {
  const app = new cdk.App();
  const stack = new \${className}(app, 'MyTestStack');
  const template = Template.fromStack(stack);
  template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 6 * * ? *)' });
  template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 7 * * ? *)' });
});

test('runs on the Node the harness asked for', () => {
  expect(process.versions.node.split('.')[0]).toBe(process.env.ADOPTION_NODE ?? process.versions.node.split('.')[0]);
});
\`);
"
}

# Synth with a finding inside the pipeline and one in the user's own stack: only Nightshift's fails, by rule and path.
check_nag_scope() {
  local stack
  stack="$(ls lib/*-stack.ts)"
  cp "$stack" "$work/stack.bak"
  node -e "
const fs = require('fs');
let s = fs.readFileSync('$stack', 'utf8');
s = s.replace(\"new NightshiftPipeline(this, 'Pipeline', { pipeline });\", \"const nightshift = new NightshiftPipeline(this, 'Pipeline', { pipeline });\n    new Queue(nightshift, 'Unguarded');\n    new Queue(this, 'UsersOwnQueue');\");
s = \"import { Queue } from 'aws-cdk-lib/aws-sqs';\n\" + s;
fs.writeFileSync('$stack', s);
"
  if npx cdk synth -q > nag.log 2>&1; then cat nag.log; echo "adoption FAILED: an unacknowledged cdk-nag finding on Nightshift's queue did not fail the synth" >&2; exit 1; fi
  grep -q "AwsSolutions-SQS4" nag.log && grep -q "Pipeline/Unguarded" nag.log || { cat nag.log; echo "adoption FAILED: the synth failed without naming AwsSolutions-SQS4 on Pipeline/Unguarded" >&2; exit 1; }
  if grep -q "UsersOwnQueue" nag.log; then cat nag.log; echo "adoption FAILED: cdk-nag checked the user's own queue" >&2; exit 1; fi
  cp "$work/stack.bak" "$stack"
}

# A config with an impossible cron: the synth ends with one clean error naming the field and the config file.
check_bad_config() {
  cp nightshift.config.ts "$work/config.bak"
  sed -i "s/cron: '0 6 \* \* \*'/cron: '0 25 * * *'/" nightshift.config.ts
  if npx cdk synth -q > bad.log 2>&1; then echo "adoption FAILED: a bad config synthesized" >&2; exit 1; fi
  grep -q "agents\[scout\].schedules\[0\].cron: hour '25' is out of range 0-23" bad.log && grep -q "nightshift.config.ts:" bad.log || { cat bad.log; echo "adoption FAILED: the bad config's error did not name the field and the file" >&2; exit 1; }
  if grep -qE "node_modules/nightshift/dist/.*:[0-9]+:[0-9]+\)|issues: \[" bad.log; then cat bad.log; echo "adoption FAILED: the bad config's error dumps Nightshift's internals" >&2; exit 1; fi
  cp "$work/config.bak" nightshift.config.ts
}

for set in $sets; do
  case "$set" in
    newest) cdk_lib="$(npm view aws-cdk-lib version)"; constructs="$(npm view constructs version)"; cli="$(npm view aws-cdk version)" ;;
    oldest) cdk_lib="$(lowest aws-cdk-lib)"; constructs="$(lowest constructs)"; cli="$(node -p "require('$repo/node_modules/aws-cdk/package.json').version")" ;;
    *) echo "ADOPTION_SETS: unknown set '$set' (newest or oldest)" >&2; exit 2 ;;
  esac
  step "[$set] cdk init app --language typescript with aws-cdk $cli, then aws-cdk-lib $cdk_lib and constructs $constructs"
  project="$work/$set-cdkapp"
  mkdir "$project" && cd "$project"
  quietly "$work/$set-init.log" "cdk init" npx -y "aws-cdk@$cli" init app --language typescript
  before=$(du -sm node_modules | cut -f1)
  quietly install.log "installing the tarball" npm install "$tarball"
  added=$(( $(du -sm node_modules | cut -f1) - before ))
  quietly pins.log "installing aws-cdk-lib $cdk_lib" npm install --save-exact "aws-cdk-lib@$cdk_lib" "constructs@$constructs"
  echo "installing nightshift added $added MB to the project's node_modules ($before MB before: the CDK template's own aws-cdk-lib, aws-cdk, TypeScript, jest)"
  record "cdk init" "$cdk_lib" "-" "installed size added by nightshift" "$added MB"
  write_cdk_project
  for major in $nodes; do
    export ADOPTION_NODE="$major"
    quietly jest.log "[$set, Node $major] the project's npm test (Jest, $(node -p "Object.keys(require('./jest.config.js').transform ?? {}).length ? JSON.stringify(Object.values(require('./jest.config.js').transform)[0]) : 'default'"))" on_node "$major" npm test
    grep -E "^Tests:" jest.log
    record "cdk init" "$cdk_lib" "$major" "npm test (jest, the template's transform)" "$(grep -E '^Tests:' jest.log | sed 's/Tests: *//')"
    rm -rf cdk.out
    quietly synth.log "[$set, Node $major] npx cdk synth" on_node "$major" npx cdk synth -q
    node -e "
const fs = require('fs');
const file = fs.readdirSync('cdk.out').find((f) => f.endsWith('.template.json'));
const resources = Object.values(JSON.parse(fs.readFileSync('cdk.out/' + file, 'utf8')).Resources);
const functions = resources.filter((r) => r.Type === 'AWS::Lambda::Function');
const agents = functions.filter((r) => r.Properties.Environment && r.Properties.Environment.Variables.NIGHTSHIFT_AGENT_SPEC);
if (agents.length !== 2) throw new Error('expected the 2 agents\' functions in ' + file + ', found ' + agents.length);
const runtimes = [...new Set(functions.map((f) => f.Properties.Runtime))];
const { aws_lambda } = require('aws-cdk-lib');
const newest = aws_lambda.Runtime.ALL.map((r) => r.name).filter((n) => /^nodejs\d+\.x$/.test(n)).sort((a, b) => parseInt(a.slice(6)) - parseInt(b.slice(6))).pop();
if (runtimes.length !== 1 || runtimes[0] !== newest) throw new Error('functions run on ' + runtimes + ', not ' + newest + ', the newest this aws-cdk-lib knows');
console.log(file + ': ' + resources.length + ' resources, ' + agents.length + ' agent functions, all ' + functions.length + ' functions on ' + newest);
" | tee runtime.txt
    record "cdk init" "$cdk_lib" "$major" "npx cdk synth (cdk-nag clean)" "ok, $(sed 's/.* on //' runtime.txt)"
    quietly local.log "[$set, Node $major] npx nightshift local" on_node "$major" npx nightshift local --hours 8
    grep -E "^All guardrails held" local.log
    record "cdk init" "$cdk_lib" "$major" "npx nightshift local" "all guardrails held"
  done
  unset ADOPTION_NODE
  step "[$set] the same project under ts-jest and ts-node (TypeScript 5, CommonJS)"
  quietly tsjest-install.log "installing ts-jest and ts-node" npm install -D ts-jest@29 ts-node@10 typescript@5.9
  printf '%s\n' "module.exports = { testEnvironment: 'node', roots: ['<rootDir>/test'], testMatch: ['**/*.test.ts'], transform: { '^.+\\\\.tsx?\$': 'ts-jest' } };" > jest.ts-jest.config.js
  quietly tsjest.log "[$set] jest with ts-jest" npx jest --config jest.ts-jest.config.js
  grep -E "^Tests:" tsjest.log
  record "cdk init" "$cdk_lib" "$here_major" "jest with ts-jest (type-checked)" "$(grep -E '^Tests:' tsjest.log | sed 's/Tests: *//')"
  quietly tsnode.log "[$set] synth through ts-node" env CDK_OUTDIR="$work/$set-tsnode.out" npx ts-node --prefer-ts-exts "bin/$(basename "$project").ts"
  ls "$work/$set-tsnode.out"/*.template.json > /dev/null
  record "cdk init" "$cdk_lib" "$here_major" "app through ts-node" "ok"
  step "[$set] cdk-nag checks Nightshift's resources in the user's stack, and only those"
  check_nag_scope
  record "cdk init" "$cdk_lib" "$here_major" "cdk-nag finding on Nightshift's queue" "fails synth: AwsSolutions-SQS4 Pipeline/Unguarded"
  step "[$set] a bad config ends the synth with one clean error"
  check_bad_config
  grep -m1 "ConfigError" bad.log
  record "cdk init" "$cdk_lib" "$here_major" "bad config" "one error naming agents[scout]...cron"

  step "[$set] nightshift init, then aws-cdk-lib $cdk_lib, constructs $constructs and aws-cdk $cli"
  cd "$work"
  node "$project/node_modules/nightshift/bin/nightshift.mjs" init "$set-fresh" --package "file:$tarball" > /dev/null
  cd "$set-fresh"
  node -e "
const fs = require('fs');
const p = JSON.parse(fs.readFileSync('package.json', 'utf8'));
p.dependencies['aws-cdk-lib'] = '$cdk_lib'; p.dependencies.constructs = '$constructs'; p.devDependencies['aws-cdk'] = '$cli';
fs.writeFileSync('package.json', JSON.stringify(p, null, 2) + '\n');
"
  quietly install.log "[$set] npm install in the nightshift init project" npm install
  if grep -qi "prepare" install.log; then cat install.log; echo "adoption FAILED: npm install warns about the package's scripts" >&2; exit 1; fi
  record "nightshift init" "$cdk_lib" "-" "node_modules" "$(du -sm node_modules | cut -f1) MB"
  for major in $nodes; do
    quietly test.log "[$set, Node $major] npm test in the nightshift init project" on_node "$major" npm test
    grep -E "Tests +[0-9]+ passed" test.log
    record "nightshift init" "$cdk_lib" "$major" "npm test (vitest)" "$(grep -E 'Tests +[0-9]+ passed' test.log | sed 's/ *Tests *//')"
    rm -rf cdk.out
    quietly synth.log "[$set, Node $major] npx cdk synth in the nightshift init project" on_node "$major" npx cdk synth -q
    record "nightshift init" "$cdk_lib" "$major" "npx cdk synth (cdk-nag clean)" "ok"
    quietly local.log "[$set, Node $major] npx nightshift local in the nightshift init project" on_node "$major" npx nightshift local --hours 8
    grep -E "^All guardrails held" local.log
    record "nightshift init" "$cdk_lib" "$major" "npx nightshift local" "all guardrails held"
  done
done

step "every path passed"
cat "$results"
