// Not a test (the test command runs *.test.ts only): the wall time of three Telepresence PRs of one app,
// each deploying and then cleaning up, started together, against three the lock serialises. The serialised
// three carry one header, so each waits for the one before it to clean up, as every run on an app did before
// the shared lock. Same machine, same stand-ins (test/cluster/standins.ts), same poll interval.
//   npx mocha --no-config -r ts-node/register/transpile-only --timeout 1200000 --exit test/cluster/intercepts/intercept-lock.bench.ts
import { deploySuite } from "../standins";
import { ok } from "./lifecycle-fixtures";
import { cleanup, deployAs, liveRun } from "./lock-fixtures";

async function threeRuns(headers: string[]): Promise<number> {
    const runs = headers.map((h, i) => ({ run: liveRun(`bench-${i}`), header: h }));
    const t0 = Date.now();
    await Promise.all(runs.map(async ({ run, header }) => {
        ok(await deployAs(run, "telepresence", header, ["demo-fe"]));
        ok(await cleanup(run));
    }));
    return Date.now() - t0;
}

describe("bench: 3 Telepresence PRs of one app, concurrent (shared lock) vs serialised", function () {
    this.timeout(1_200_000);
    deploySuite();

    it("measures", async () => {
        const rounds = Number(process.env.ROUNDS ?? 3);
        const rows: string[] = [];
        for (let i = 0; i < rounds; i++) {
            const concurrent = await threeRuns(["pr-1", "pr-2", "pr-3"]);
            const serialised = await threeRuns(["pr-1", "pr-1", "pr-1"]);
            rows.push(`round ${i + 1}: concurrent ${(concurrent / 1000).toFixed(1)} s, serialised ${(serialised / 1000).toFixed(1)} s`);
        }
        console.log(`\n    ${rows.join("\n    ")}\n`);
    });
});
