// exec under the systemd cgroup driver (in the systemd VM only, like
// cgroups-systemd.sd.ts): the exec'd process joins the init's scope, as
// test/support/exec-cgroups.ts checks on the host and on plain v2.
import { existsSync } from 'node:fs';
import { isRoot, RUNC } from '../integration/harness.js';
import { hostLayout } from '../../src/cgroups/layout.js';
import { describeExecCgroups } from '../support/exec-cgroups.js';

const inVm = !!process.env.OCIRUN_TEST_VM && hostLayout().mode === 'unified' && existsSync('/run/systemd/system');

describeExecCgroups('exec joins the init\'s scope (systemd driver, systemd VM)', isRoot && inVm && !!RUNC, { systemd: true });
