// Durations live in lib/ since `photon login` (cli/, which may not import apiserver/) parses them too.
export { formatDuration, parseDurationSeconds } from '../../../lib/duration.ts';
