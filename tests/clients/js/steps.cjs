// The step recorder the client drivers share (flow.mjs, sync_flow.mjs, bot_flow.cjs): each named
// step's result is kept under its name, and a failure reports the step it happened in.
"use strict";

const STEP_TIMEOUT_MS = 20000;

function newRun() {
    const run = { results: {}, currentStep: "start" };

    // Run one named step and keep what it returns under that name.
    run.step = async (name, fn) => {
        run.currentStep = name;
        const value = await fn();
        run.results[name] = value === undefined ? null : value;
        return value;
    };

    // `promise`, or a timeout error naming `what` after STEP_TIMEOUT_MS.
    run.within = (promise, what) => {
        let timer;
        const timeout = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), STEP_TIMEOUT_MS);
        });
        return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
    };
    return run;
}

module.exports = { newRun, STEP_TIMEOUT_MS };
