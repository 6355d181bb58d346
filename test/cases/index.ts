// Every family's case table (test/cases/case.ts). A new family adds its file here.
import type { Family, OpCase } from './case';
import { channel } from './channel';
import { conv } from './conv';
import { data } from './data-ops';
import { elementwise } from './elementwise';
import { fused } from './fused';
import { linalg } from './linalg';
import { loss } from './loss';
import { pool } from './pool';
import { random } from './random';
import { reduce } from './reduce';

export const families: readonly Family[] = [data, elementwise, reduce, channel, linalg, conv, pool, loss, random, fused];

export const allCases: readonly OpCase[] = families.flatMap((f) => f.cases);

export type { Family, OpCase } from './case';
