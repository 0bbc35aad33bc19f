//! Unit tests of the block pool, part buffers and the SDK body.

use super::*;

#[test]
fn head_spans_chunks() {
    let mut chunks = Chunks::default();
    chunks.push(Bytes::from_static(b"ab"));
    chunks.push(Bytes::from_static(b"cdef"));
    assert_eq!(chunks.head(3), Bytes::from_static(b"abc"));
    assert_eq!(chunks.head(100), Bytes::from_static(b"abcdef"));
    assert_eq!(chunks.len(), 6);
}

#[tokio::test]
async fn byte_stream_replays_all_chunks() {
    let mut chunks = Chunks::default();
    chunks.push(Bytes::from_static(b"hello "));
    chunks.push(Bytes::from_static(b"world"));
    let collected = chunks
        .into_byte_stream()
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(collected, Bytes::from_static(b"hello world"));
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn part_buffer_copies_into_a_first_buffer_then_whole_blocks_and_keeps_the_bytes_in_order() {
    let pool = BlockPool::new(64 * BLOCK_SIZE as u64);
    let _reading = pool.reader();
    let data = pattern(2 * BLOCK_SIZE + 12_345);
    let mut part = PartBuffer::new(&pool, 8 * BLOCK_SIZE as u64);
    for piece in data.chunks(70_001) {
        part.extend(piece);
    }
    assert_eq!(part.len(), data.len() as u64);
    assert_eq!(part.allocated(), (FIRST_BUFFER + 2 * BLOCK_SIZE) as u64);
    let chunks = part.finish();
    assert_eq!(chunks.chunks.len(), 3);
    assert_eq!(chunks.chunks[0].len(), FIRST_BUFFER);
    let joined: Vec<u8> = chunks.chunks.iter().flat_map(|c| c.to_vec()).collect();
    assert_eq!(joined, data);
    assert_eq!(chunks.head(5), Bytes::copy_from_slice(&data[..5]));
}

#[test]
fn small_parts_take_only_what_the_length_hint_allows() {
    let pool = BlockPool::new(64 * BLOCK_SIZE as u64);
    let _reading = pool.reader();
    let mut part = PartBuffer::new(&pool, 1000);
    part.extend(&pattern(600));
    assert_eq!(part.allocated(), 1000);
    // More than the hint said still fits, in another buffer.
    part.extend(&pattern(600));
    assert_eq!(part.len(), 1200);
    assert_eq!(part.finish().len(), 1200);
}

#[test]
fn planned_is_what_a_part_of_the_expected_size_takes() {
    let pool = BlockPool::new(64 * BLOCK_SIZE as u64);
    let _reading = pool.reader();
    for expected in [
        1,
        1000,
        FIRST_BUFFER,
        FIRST_BUFFER + 1,
        FIRST_BUFFER + SMALL_TAIL,
        FIRST_BUFFER + SMALL_TAIL + 1,
        BLOCK_SIZE,
        BLOCK_SIZE + FIRST_BUFFER,
        5 * BLOCK_SIZE + 1,
        8 * BLOCK_SIZE,
    ] {
        let mut part = PartBuffer::new(&pool, expected as u64);
        part.extend(&pattern(expected));
        assert_eq!(
            part.allocated(),
            PartBuffer::planned(expected as u64),
            "{expected}"
        );
        // Never more than one part rounded up to whole blocks, plus the first buffer: what the
        // configuration's check of UPLOAD_MEMORY_BUDGET assumes.
        let bound =
            (expected as u64).div_ceil(BLOCK_SIZE as u64) * BLOCK_SIZE as u64 + FIRST_BUFFER as u64;
        assert!(part.allocated() <= bound, "{expected}");
    }
}

#[test]
fn blocks_are_reused_while_readers_run_and_released_when_the_last_ends() {
    let pool = BlockPool::new(64 * BLOCK_SIZE as u64);
    let reading = pool.reader();
    let mut part = PartBuffer::new(&pool, 2 * BLOCK_SIZE as u64);
    part.extend(&pattern(2 * BLOCK_SIZE));
    drop(part.finish());
    assert_eq!(
        pool.free_blocks(),
        2,
        "freed blocks are kept while a reader runs"
    );
    // Past its first buffer, a part takes a block.
    let mut part = PartBuffer::new(&pool, 2 * BLOCK_SIZE as u64);
    part.extend(&pattern(FIRST_BUFFER + 10));
    let chunks = part.finish();
    assert_eq!(pool.free_blocks(), 1, "a free block is taken again");
    drop(reading);
    assert_eq!(pool.free_blocks(), 0, "an idle pool holds nothing");
    drop(chunks);
    assert_eq!(
        pool.free_blocks(),
        0,
        "blocks returned after the last reader are freed"
    );
}

#[tokio::test]
async fn in_a_runtime_free_blocks_outlive_the_last_reader_briefly() {
    let pool = BlockPool::new(64 * BLOCK_SIZE as u64);
    let reading = pool.reader();
    let mut part = PartBuffer::new(&pool, BLOCK_SIZE as u64);
    part.extend(&pattern(BLOCK_SIZE));
    drop(part.finish());
    drop(reading);
    assert_eq!(
        pool.free_blocks(),
        1,
        "kept for an upload that follows at once"
    );
    // Another upload within the delay takes the block again, and pushes the release back.
    let reading = pool.reader();
    let mut part = PartBuffer::new(&pool, 2 * BLOCK_SIZE as u64);
    part.extend(&pattern(FIRST_BUFFER + 10));
    assert_eq!(pool.free_blocks(), 0);
    drop(part.finish());
    drop(reading);
    tokio::time::sleep(IDLE_RELEASE * 2).await;
    assert_eq!(pool.free_blocks(), 0, "released once idle");
}

#[test]
fn first_buffers_are_reused_like_blocks() {
    let pool = BlockPool::new(64 * BLOCK_SIZE as u64);
    let reading = pool.reader();
    let mut part = PartBuffer::new(&pool, 8 * BLOCK_SIZE as u64);
    part.extend(&pattern(1000));
    let first = part.finish();
    let address = first.chunks[0].as_ptr();
    drop(first);
    assert_eq!(pool.0.lock().firsts.len(), 1);
    let mut part = PartBuffer::new(&pool, 8 * BLOCK_SIZE as u64);
    part.extend(&pattern(10));
    assert_eq!(
        part.finish().chunks[0].as_ptr(),
        address,
        "the same buffer again"
    );
    drop(reading);
    assert_eq!(pool.0.lock().firsts.len(), 0, "an idle pool holds none");
}

#[test]
fn the_pool_keeps_at_most_its_budget() {
    let pool = BlockPool::new(BLOCK_SIZE as u64);
    let _reading = pool.reader();
    let mut part = PartBuffer::new(&pool, 3 * BLOCK_SIZE as u64);
    part.extend(&pattern(3 * BLOCK_SIZE));
    drop(part.finish());
    assert_eq!(pool.free_blocks(), 1);
}
