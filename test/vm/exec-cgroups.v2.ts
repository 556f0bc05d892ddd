// exec and the container's cgroups on pure cgroup v2 (in the VM only, like
// cgroups.v2.ts): test/support/exec-cgroups.ts. With the guest's nsdelegate, a
// joined cgroup namespace keeps ocirun on the cgroup.procs write; without one
// the process is cloned into the cgroup.
import { isRoot } from '../integration/harness.js';
import { hostLayout } from '../../src/cgroups/layout.js';
import { describeExecCgroups } from '../support/exec-cgroups.js';

const inVm = !!process.env.OCIRUN_TEST_VM && hostLayout().mode === 'unified';

describeExecCgroups('exec joins the init\'s cgroup (pure v2, in the VM)', isRoot && inVm);
