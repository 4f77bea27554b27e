import reference from '../nightshift.config.ts';
import { runBundleBench } from '../bench/bundles/run.ts';
const b = runBundleBench(reference);
for (const f of b.functions) console.log(f.function, f.coldStart, f.lazy, f.coldLoadMs.toFixed(1), f.ratioVsBare.toFixed(2));
console.log('bare', b.bareColdLoadMs, b.bareBytes);
