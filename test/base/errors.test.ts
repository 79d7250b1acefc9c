/**
 * Every error class formats its message the same way, code first (`InvariantError`, which has no
 * code, puts where first), whether pageframe made it or a caller did.
 */
import { describe, expect, it } from 'vitest';
import {
  AllocError,
  ContractError,
  FrameAllocOptions,
  FrameSystemError,
  FrameUseError,
  Frame,
  GetFrameError,
  InvariantError,
  MetaTypeError,
} from '../../src/index.js';
import { expectThrown, makeSystem } from '../helpers.js';

describe('error messages', () => {
  it('every constructor puts the code first, once', () => {
    const made: [Error & { code: string }, string][] = [
      [new GetFrameError('InUse', 0x3000), 'InUse: frame at 0x3000'],
      [new GetFrameError('Busy', 0x3000, 'a detail'), 'Busy: a detail'],
      [new AllocError('NoMemory', 'the pool is empty', 8, 2), 'NoMemory: the pool is empty'],
      [new FrameUseError('BadRange', 'offset 100'), 'BadRange: offset 100'],
      [new MetaTypeError('Conflict', 'x'), 'Conflict: x'],
      [new FrameSystemError('BadHeader', 'y'), 'BadHeader: y'],
      [new ContractError('from_raw_requires', 0x1000, 'z'), 'Contract: from_raw_requires violated at frame 0x1000: z'],
    ];
    for (const [e, start] of made) {
      expect(e.message.startsWith(start), e.message).toBe(true);
      expect(e.message.startsWith(`${e.code}: ${e.code}:`), e.message).toBe(false);
    }
    expect(new InvariantError('slot of frame 0x0', 'busy').message).toBe('slot of frame 0x0: busy');
  });

  it('errors the library throws read the same way (no code twice)', () => {
    const sys = makeSystem();
    const thrown = [
      expectThrown(() => new FrameAllocOptions(sys).allocSegment(0), AllocError, 'InvalidArgs'),
      expectThrown(() => sys.allocSegment(1000), AllocError, 'NoMemory'),
      expectThrown(() => sys.allocator.alloc(1, 3), AllocError, 'InvalidArgs'),
      expectThrown(() => Frame.fromInUse(sys, 0), GetFrameError, 'Unused'),
    ];
    for (const e of thrown) {
      expect(e.message).toMatch(new RegExp(`^${e.code}: `));
      expect(e.message).not.toMatch(new RegExp(`^${e.code}: ${e.code}`));
    }
  });
});
