//! Decoding a typical submit_sm or deliver_sm receipt, reading its TLVs, and encoding into
//! a warmed-up buffer allocate nothing. A counting global allocator proves it; it counts
//! only on the thread that asked, so the test harness's own threads do not interfere.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use tern_smpp::*;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: forwards to the system allocator unchanged; the counter only touches
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

fn sample(id: CommandId) -> PduOwned {
    samples()
        .into_iter()
        .find(|p| p.command_id() == id)
        .expect("sample exists")
}

#[test]
fn decoding_submit_sm_and_deliver_sm_allocates_nothing() {
    let submit = encode(&sample(CommandId::SUBMIT_SM));
    let receipt = encode(&sample(CommandId::DELIVER_SM));
    let mut sar_total = 0usize;
    let mut receipted_len = 0;
    let n = allocations_in(|| {
        for _ in 0..100 {
            let pdu = Pdu::decode(&submit).expect("decodes");
            let tlvs = pdu.body.tlvs().expect("has TLVs");
            sar_total += usize::from(tlvs.sar_total_segments().unwrap_or(0));
            sar_total += tlvs.iter().count();
            let pdu = Pdu::decode(&receipt).expect("decodes");
            let tlvs = pdu.body.tlvs().expect("has TLVs");
            receipted_len += tlvs.receipted_message_id().map_or(0, <[u8]>::len);
            assert_eq!(tlvs.message_state(), Some(MessageState::DELIVERED.0));
        }
    });
    assert_eq!(n, 0, "decode allocated {n} times");
    assert!(sar_total > 0 && receipted_len > 0);
}

#[test]
fn encoding_into_a_reused_buffer_allocates_nothing() {
    let submit = sample(CommandId::SUBMIT_SM);
    let receipt = sample(CommandId::DELIVER_SM);
    let mut out = Vec::with_capacity(4096);
    let mut scratch = Vec::with_capacity(256);
    let n = allocations_in(|| {
        for seq in 0..100 {
            out.clear();
            submit.encode(&mut out).expect("encodes");
            receipt.encode(&mut out).expect("encodes");
            // A receipt built on the hot path: TLVs into a reused scratch buffer.
            let tlvs = Tlvs::build(
                &mut scratch,
                &[Tlv::ReceiptedMessageId(b"0123456789"), Tlv::MessageState(2)],
            )
            .expect("encodes");
            let pdu = Pdu::new(
                seq,
                Body::DeliverSm(DeliverSm {
                    source_addr: c("447700900002"),
                    destination_addr: c("447700900001"),
                    esm_class: EsmClass::TYPE_DELIVERY_RECEIPT,
                    short_message: c("id:0123456789 stat:DELIVRD err:000"),
                    tlvs,
                    ..DeliverSm::default()
                }),
            );
            pdu.encode(&mut out).expect("encodes");
            encode_header_only(
                CommandId::ENQUIRE_LINK,
                CommandStatus::ESME_ROK,
                seq,
                &mut out,
            );
        }
    });
    assert_eq!(n, 0, "encode allocated {n} times");
}
