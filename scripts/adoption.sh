#!/usr/bin/env bash
# Adoption as a new user meets it, outside this repository, with the packed package and real installs (the npm
# registry): a project made by the CDK's own `cdk init app --language typescript` (CommonJS, tsc, tsx) adds a
# pipeline to its stack with NightshiftPipeline, synthesizes with its own unchanged app command and runs
# `nightshift local`; then a project made by `nightshift init` runs npm test, cdk synth and nightshift local.
# Prints the tarball's size and file count and each project's installed size. Exits non-zero on the first failure.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/nightshift-adoption-XXXXXX")"
trap 'rm -rf "$work"' EXIT
export NO_COLOR=1 AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true POWERTOOLS_LOG_LEVEL=ERROR npm_config_audit=false npm_config_fund=false
step() { printf '\nadoption: %s\n' "$*"; }

step "packing"
cd "$repo"
npm pack --pack-destination "$work" --json > "$work/pack.json"
tarball="$work/$(node -e "console.log(require('$work/pack.json')[0].filename)")"
node -e "const p = require('$work/pack.json')[0]; console.log('tarball ' + p.filename + ': ' + p.entryCount + ' files, ' + (p.size / 1024).toFixed(0) + ' kB packed, ' + (p.unpackedSize / 1024).toFixed(0) + ' kB unpacked')"

step "cdk init app --language typescript (the CDK's own template, with the aws-cdk CLI of our devDependencies)"
mkdir "$work/cdkapp" && cd "$work/cdkapp"
node "$repo/node_modules/aws-cdk/bin/cdk" init app --language typescript > "$work/init.log" 2>&1 || { cat "$work/init.log"; exit 1; }
before=$(du -sm node_modules | cut -f1)
npm install "$tarball" > install.log 2>&1 || { cat install.log; exit 1; }
echo "installing nightshift added $(( $(du -sm node_modules | cut -f1) - before )) MB to the project's node_modules ($before MB before: the CDK template's own aws-cdk-lib, aws-cdk, TypeScript, jest)"
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
stack="$(ls lib/*-stack.ts)"
node -e "
const fs = require('fs');
let s = fs.readFileSync('$stack', 'utf8');
s = s.replace(\"import { Construct } from 'constructs';\", \"import { Construct } from 'constructs';\nimport { NightshiftPipeline } from 'nightshift/cdk';\nimport pipeline from '../nightshift.config';\");
s = s.replace('// The code that defines your stack goes here', \"new NightshiftPipeline(this, 'Pipeline', { pipeline });\");
if (!s.includes('new NightshiftPipeline')) throw new Error('the generated stack changed shape: ' + s);
fs.writeFileSync('$stack', s);
"
step "npx cdk synth (the project's own app command: $(node -e "console.log(require('./cdk.json').app)"))"
npx cdk synth -q > synth.log 2>&1 || { cat synth.log; exit 1; }
node -e "
const fs = require('fs');
const file = fs.readdirSync('cdk.out').find((f) => f.endsWith('.template.json'));
const resources = Object.values(JSON.parse(fs.readFileSync('cdk.out/' + file, 'utf8')).Resources);
const agents = resources.filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment && r.Properties.Environment.Variables.NIGHTSHIFT_AGENT_SPEC);
if (agents.length !== 2) throw new Error('expected the 2 agents\' functions in ' + file + ', found ' + agents.length);
console.log(file + ': ' + resources.length + ' resources, ' + agents.length + ' agent functions');
"
step "npx nightshift local"
npx nightshift local --hours 8 > local.log 2>&1 || { cat local.log; exit 1; }
grep -E "^All guardrails held" local.log

step "nightshift init"
cd "$work"
node "$work/cdkapp/node_modules/nightshift/bin/nightshift.mjs" init fresh --package "file:$tarball"
cd fresh
npm install > install.log 2>&1 || { cat install.log; exit 1; }
step "npm test"
npm test > test.log 2>&1 || { cat test.log; exit 1; }
grep -E "Tests +[0-9]+ passed" test.log
step "npx cdk synth"
npx cdk synth -q > synth.log 2>&1 || { cat synth.log; exit 1; }
ls cdk.out/*.template.json
step "npx nightshift local"
npx nightshift local --hours 8 > local.log 2>&1 || { cat local.log; exit 1; }
grep -E "^All guardrails held" local.log
echo "the nightshift init project's node_modules: $(du -sm node_modules | cut -f1) MB"
step "both paths work"
