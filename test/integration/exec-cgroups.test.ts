// exec and the container's cgroups on this (hybrid) host: test/support/exec-cgroups.ts.
import { isRoot } from './harness.js';
import { describeExecCgroups } from '../support/exec-cgroups.js';

describeExecCgroups('exec joins every cgroup of the init', isRoot);
