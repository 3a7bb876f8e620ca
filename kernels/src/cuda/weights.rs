//! Weights on the device: each matrix's block bytes exactly as in the file, in one plain
//! device allocation; norm weights as f32.

use super::{CudaError, Gpu};
use crate::matmul::Weight;
use crate::model::{LayerWeights, LlamaModel};
use crate::quant::WeightFormat;
use cudarc::driver::CudaSlice;

#[derive(Debug)]
pub struct DeviceMatrix {
    pub format: WeightFormat,
    pub rows: usize,
    pub cols: usize,
    pub bytes: CudaSlice<u8>,
}

impl DeviceMatrix {
    pub fn upload(gpu: &Gpu, weight: &Weight) -> Result<Self, CudaError> {
        let Weight::Plain(m) = weight else {
            return Err(CudaError::NotPlain);
        };
        Ok(Self {
            format: m.format(),
            rows: m.rows(),
            cols: m.cols(),
            bytes: gpu.stream.clone_htod(m.bytes())?,
        })
    }
}

#[derive(Debug)]
pub struct DeviceLayer {
    pub attn_norm: CudaSlice<f32>,
    pub q: DeviceMatrix,
    pub k: DeviceMatrix,
    pub v: DeviceMatrix,
    pub o: DeviceMatrix,
    pub ffn_norm: CudaSlice<f32>,
    pub gate: DeviceMatrix,
    pub up: DeviceMatrix,
    pub down: DeviceMatrix,
}

impl DeviceLayer {
    pub fn upload(gpu: &Gpu, layer: &LayerWeights) -> Result<Self, CudaError> {
        let m = |w| DeviceMatrix::upload(gpu, w);
        Ok(Self {
            attn_norm: gpu.stream.clone_htod(&layer.attn_norm)?,
            q: m(&layer.q)?,
            k: m(&layer.k)?,
            v: m(&layer.v)?,
            o: m(&layer.o)?,
            ffn_norm: gpu.stream.clone_htod(&layer.ffn_norm)?,
            gate: m(&layer.gate)?,
            up: m(&layer.up)?,
            down: m(&layer.down)?,
        })
    }
}

/// Every weight of a model on the device.
#[derive(Debug)]
pub struct DeviceWeights {
    pub embed: DeviceMatrix,
    pub output: Option<DeviceMatrix>,
    pub output_norm: CudaSlice<f32>,
    pub layers: Vec<DeviceLayer>,
}

impl DeviceWeights {
    pub fn upload(gpu: &Gpu, model: &LlamaModel) -> Result<Self, CudaError> {
        Ok(Self {
            embed: DeviceMatrix::upload(gpu, &model.embed)?,
            output: model
                .output
                .as_ref()
                .map(|w| DeviceMatrix::upload(gpu, w))
                .transpose()?,
            output_norm: gpu.stream.clone_htod(&model.output_norm)?,
            layers: model
                .layers
                .iter()
                .map(|l| DeviceLayer::upload(gpu, l))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The output head (the token embedding when tied).
    pub fn output_head(&self) -> &DeviceMatrix {
        self.output.as_ref().unwrap_or(&self.embed)
    }
}
