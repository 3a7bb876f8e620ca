//! Weights on the device: each matrix's block bytes exactly as in the file, in one plain
//! allocation; norm weights as f32.

use super::ops::DeviceMatrix;
use super::{f32_bytes, Buffer, Device, DeviceError, Result};
use crate::matmul::Weight;
use crate::model::{LayerWeights, LlamaModel};

fn matrix(device: &dyn Device, weight: &Weight) -> Result<DeviceMatrix> {
    let Weight::Plain(m) = weight else {
        return Err(DeviceError::NotPlain);
    };
    Ok(DeviceMatrix {
        format: m.format(),
        rows: m.rows(),
        cols: m.cols(),
        bytes: device.upload(m.bytes())?,
    })
}

#[derive(Debug)]
pub struct DeviceLayer {
    pub attn_norm: Buffer,
    pub q: DeviceMatrix,
    pub k: DeviceMatrix,
    pub v: DeviceMatrix,
    pub o: DeviceMatrix,
    pub ffn_norm: Buffer,
    pub gate: DeviceMatrix,
    pub up: DeviceMatrix,
    pub down: DeviceMatrix,
}

impl DeviceLayer {
    fn upload(device: &dyn Device, layer: &LayerWeights) -> Result<Self> {
        let m = |w| matrix(device, w);
        Ok(Self {
            attn_norm: device.upload(&f32_bytes(&layer.attn_norm))?,
            q: m(&layer.q)?,
            k: m(&layer.k)?,
            v: m(&layer.v)?,
            o: m(&layer.o)?,
            ffn_norm: device.upload(&f32_bytes(&layer.ffn_norm))?,
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
    pub output_norm: Buffer,
    pub layers: Vec<DeviceLayer>,
}

impl DeviceWeights {
    pub fn upload(device: &dyn Device, model: &LlamaModel) -> Result<Self> {
        Ok(Self {
            embed: matrix(device, &model.embed)?,
            output: model
                .output
                .as_ref()
                .map(|w| matrix(device, w))
                .transpose()?,
            output_norm: device.upload(&f32_bytes(&model.output_norm))?,
            layers: model
                .layers
                .iter()
                .map(|l| DeviceLayer::upload(device, l))
                .collect::<Result<_>>()?,
        })
    }

    /// The output head (the token embedding when tied).
    pub fn output_head(&self) -> &DeviceMatrix {
        self.output.as_ref().unwrap_or(&self.embed)
    }
}
