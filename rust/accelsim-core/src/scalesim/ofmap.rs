//! SCALE-Sim 3.0.0's ofmap scratchpad (`memory/write_buffer.py`) as used in CALC mode, counted
//! instead of traced.
//!
//! Words written by the array collect in lines of `bw` words (the DRAM request width, the
//! array's column count in CALC mode). Once more than the drain half of the buffer is occupied
//! (`free < active`), every line written so far, including a partial one, is queued and the
//! oldest `ceil(drain / bw)` lines go to DRAM, one line per cycle; a write that finds the buffer
//! full while a drain is in progress waits for the drain to end (a stall). At the end of the
//! layer everything left is drained. SCALE-Sim counts a drained batch as `lines * bw` words
//! minus the unused slots of its *last* line only, and credits the buffer's free space with the
//! same number; both quirks are kept.

use std::collections::VecDeque;

/// The write buffer's state between demand lines.
#[derive(Debug, Clone)]
pub(crate) struct WriteBuffer {
    active: i64,
    bw: u64,
    lines_per_drain: u64,
    free: i64,
    /// Words in the line being filled.
    fill: u64,
    /// Lines waiting to be drained, as runs of (words in the line, number of such lines).
    queue: VecDeque<(u64, u64)>,
    queued: u64,
    drain_end: i64,
    stored_any: bool,
    /// DRAM words written, first cycle of the first drain, last cycle of the last one.
    pub(crate) writes: u64,
    pub(crate) first_cycle: Option<i64>,
    pub(crate) last_cycle: i64,
}

impl WriteBuffer {
    /// A buffer of `size` words (one byte each) draining `bw` words per request.
    pub(crate) fn new(size: u64, bw: u64) -> Self {
        let total = size as i64;
        // int(math.ceil(total * 0.5)) and the rest.
        let active = (total + 1) / 2;
        let drain = (total - active) as u64;
        WriteBuffer {
            active,
            bw,
            lines_per_drain: drain.div_ceil(bw),
            free: total,
            fill: 0,
            queue: VecDeque::new(),
            queued: 0,
            drain_end: 0,
            stored_any: false,
            writes: 0,
            first_cycle: None,
            last_cycle: i64::MIN,
        }
    }

    fn push(&mut self, words: u64, count: u64) {
        if count == 0 {
            return;
        }
        match self.queue.back_mut() {
            Some((w, c)) if *w == words => *c += count,
            _ => self.queue.push_back((words, count)),
        }
        self.queued += count;
    }

    fn store(&mut self, k: u64) {
        self.stored_any = true;
        self.free -= k as i64;
        self.fill += k;
        let full = self.fill / self.bw;
        self.push(self.bw, full);
        self.fill %= self.bw;
    }

    /// `append_to_trace_mat(force=True)`: the partial line joins the queue as a line.
    fn flush_partial(&mut self) {
        if self.fill != 0 {
            let words = self.fill;
            self.fill = 0;
            self.push(words, 1);
        }
    }

    /// `empty_drain_buf`: drain up to `lines_per_drain` lines from `start`, one per cycle;
    /// returns the cycle of the last one.
    fn drain_from(&mut self, start: i64) -> i64 {
        let lines = self.lines_per_drain.min(self.queued);
        let mut left = lines;
        let mut last_words = self.bw;
        while left > 0 {
            let front = self
                .queue
                .front_mut()
                .expect("queued lines are in the queue");
            let take = left.min(front.1);
            last_words = front.0;
            front.1 -= take;
            left -= take;
            if front.1 == 0 {
                self.queue.pop_front();
            }
        }
        self.queued -= lines;
        let words = lines * self.bw - (self.bw - last_words);
        self.writes += words;
        self.free += words as i64;
        let end = start + lines as i64 - 1;
        self.first_cycle.get_or_insert(start);
        self.last_cycle = self.last_cycle.max(end);
        self.drain_end = end;
        end
    }

    /// `service_writes` for one demand line: `n` words written in `cycle`. Returns the stall,
    /// the cycles the line's writes waited for a drain.
    pub(crate) fn write_line(&mut self, mut n: u64, cycle: i64) -> i64 {
        let mut current = cycle;
        while n > 0 {
            if current < self.drain_end {
                // Each word: free -= 1, and the word that leaves no free space waits.
                let k = self.free.max(1) as u64;
                if n < k {
                    self.store(n);
                    break;
                }
                self.store(k);
                n -= k;
                current = self.drain_end;
            } else {
                // Each word: free -= 1, and the word that leaves less than the active half
                // free starts a drain.
                let k = (self.free - self.active + 1).max(1) as u64;
                if n < k {
                    self.store(n);
                    break;
                }
                self.store(k);
                n -= k;
                self.flush_partial();
                self.drain_from(current);
            }
        }
        current - cycle
    }

    /// `empty_all_buffers(cycle)`: drain what is left, batch after batch.
    pub(crate) fn finish(&mut self, mut cycle: i64) {
        self.flush_partial();
        if !self.stored_any {
            return;
        }
        while self.queued > 0 {
            cycle = self.drain_from(cycle) + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_once_past_the_drain_half() {
        // 64 words: 32 active, 32 drain, 4-word lines, 8 lines per drain.
        let mut b = WriteBuffer::new(64, 4);
        for cycle in 0..8 {
            assert_eq!(b.write_line(4, cycle), 0);
        }
        assert_eq!(b.first_cycle, None);
        // The 33rd word starts a drain of 8 lines in cycles 8..15.
        assert_eq!(b.write_line(1, 8), 0);
        assert_eq!(b.first_cycle, Some(8));
        assert_eq!(b.last_cycle, 15);
        assert_eq!(b.writes, 32);
        b.finish(9);
        // The partial line of 1 word: 1 line, 4 slots minus 3 unused.
        assert_eq!(b.writes, 33);
        assert_eq!(b.last_cycle, 15);
    }

    #[test]
    fn partial_lines_count_as_full_unless_last() {
        let mut b = WriteBuffer::new(16, 4);
        // 9 words: the 9th leaves 7 free < 8 active, so lines [4, 4, 1] are queued and the
        // first two (the drain half, 8 words) go.
        b.write_line(9, 0);
        assert_eq!(b.writes, 8);
        // 3 more words fill a new line of 3 (the partial line of 1 stays a line of its own).
        b.write_line(3, 1);
        b.finish(5);
        // Drains [1 word, 3 words]: 2 lines of 4 slots minus the last line's 1 unused slot.
        assert_eq!(b.writes, 8 + 7);
    }

    #[test]
    fn a_full_buffer_waits_for_the_drain() {
        // 8 words, active 4, drain 4 in 4 one-word lines: the drain from cycle 0 lasts to 3.
        let mut b = WriteBuffer::new(8, 1);
        assert_eq!(b.write_line(5, 0), 0);
        // free = 3 + 4 drained = 7 ... then 7 more words in cycle 1: the 7th finds none free.
        assert_eq!(b.write_line(7, 1), 2);
    }
}
