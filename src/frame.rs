//! An RGB24 frame: the unit that flows from sources through the engine to sinks.

/// Packed RGB, 8 bits per channel, rows without padding (`data.len() == width * height * 3`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Frame {
    pub fn new(width: usize, height: usize) -> Self {
        Frame { width, height, data: vec![0; width * height * 3] }
    }

    pub fn from_raw(width: usize, height: usize, data: Vec<u8>) -> Self {
        assert_eq!(data.len(), width * height * 3, "RGB24 buffer size does not match {width}x{height}");
        Frame { width, height, data }
    }

    /// Changes the size, keeping the allocation when it is large enough (buffers are reused across frames).
    pub fn resize(&mut self, width: usize, height: usize) {
        self.width = width;
        self.height = height;
        self.data.resize(width * height * 3, 0);
    }

    /// Copies rows from a strided plane (as FFmpeg hands them out) into this frame.
    pub fn copy_from_strided(&mut self, src: &[u8], stride: usize) {
        let row = self.width * 3;
        for (y, dst) in self.data.chunks_exact_mut(row).enumerate() {
            dst.copy_from_slice(&src[y * stride..y * stride + row]);
        }
    }

    /// Copies rows into a strided plane.
    pub fn copy_to_strided(&self, dst: &mut [u8], stride: usize) {
        let row = self.width * 3;
        for (y, src) in self.data.chunks_exact(row).enumerate() {
            dst[y * stride..y * stride + row].copy_from_slice(src);
        }
    }
}

impl Default for Frame {
    fn default() -> Self {
        Frame::new(0, 0)
    }
}
