//! SMS text encodings, segmentation, reassembly and delivery receipts.
