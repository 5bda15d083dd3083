//! A network's tensors by name: declared once by the network's `build`, which both a fresh,
//! seeded initialisation and a model file's weights section go through.
//!
//! Declaring a tensor names it, gives its shape and its initialisation. A fresh [`Weights`]
//! draws the values from a ChaCha stream seeded by the detector's `seed` (candle's own CPU
//! generator cannot be seeded), so that the same seed gives the same network. A [`Weights`] read
//! from a model file instead takes each declared tensor from the file, after checking its dtype
//! and shape against the declaration, and [`Weights::finish`] refuses tensors nobody declared:
//! a file whose weights do not match the shapes its parameters imply is a named error before
//! any computation.

use crate::candle_err;
use anomex_core::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::SafeTensors;
use std::collections::HashSet;

/// Where declared tensors come from.
enum Source<'a> {
    /// Drawn from a seeded stream.
    Fresh(ChaCha8Rng),
    /// Read from a model file's weights section.
    File {
        tensors: SafeTensors<'a>,
        used: HashSet<String>,
    },
    /// Declarations are over (a loaded model no longer needs the file).
    Closed,
}

/// The tensors of one network.
pub struct Weights<'a> {
    device: Device,
    source: Source<'a>,
    /// Trainable tensors, in declaration order.
    trainable: Vec<(String, Var)>,
    /// Tensors the training updates by rule, not by gradient (batch-norm running statistics).
    buffers: Vec<(String, Var)>,
}

impl std::fmt::Debug for Weights<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Weights")
            .field("trainable", &self.trainable.len())
            .field("buffers", &self.buffers.len())
            .finish()
    }
}

impl Weights<'static> {
    /// Weights drawn afresh from `seed`.
    pub fn fresh(seed: u64, device: &Device) -> Self {
        Weights {
            device: device.clone(),
            source: Source::Fresh(ChaCha8Rng::seed_from_u64(seed)),
            trainable: Vec::new(),
            buffers: Vec::new(),
        }
    }
}

impl<'a> Weights<'a> {
    /// Weights read from safetensors bytes (a model file's weights section).
    pub fn from_bytes(bytes: &'a [u8], device: &Device) -> Result<Self> {
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::ModelFile(format!("unreadable weights section: {e}")))?;
        Ok(Weights {
            device: device.clone(),
            source: Source::File {
                tensors,
                used: HashSet::new(),
            },
            trainable: Vec::new(),
            buffers: Vec::new(),
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A trainable tensor drawn uniformly from `[-bound, bound]` when fresh.
    pub fn uniform(&mut self, name: &str, shape: &[usize], bound: f64) -> Result<Tensor> {
        let t = self.take(name, shape, |rng, n| {
            (0..n)
                .map(|_| rng.random_range(-bound..=bound) as f32)
                .collect()
        })?;
        self.trainable.push((name.to_string(), t.clone()));
        Ok(t.as_tensor().clone())
    }

    /// A trainable tensor filled with `value` when fresh.
    pub fn constant(&mut self, name: &str, shape: &[usize], value: f32) -> Result<Tensor> {
        let t = self.take(name, shape, |_, n| vec![value; n])?;
        self.trainable.push((name.to_string(), t.clone()));
        Ok(t.as_tensor().clone())
    }

    /// A tensor updated by rule during training (not by the optimiser), `value` when fresh.
    pub fn buffer(&mut self, name: &str, shape: &[usize], value: f32) -> Result<Var> {
        let t = self.take(name, shape, |_, n| vec![value; n])?;
        self.buffers.push((name.to_string(), t.clone()));
        Ok(t)
    }

    fn take(
        &mut self,
        name: &str,
        shape: &[usize],
        draw: impl FnOnce(&mut ChaCha8Rng, usize) -> Vec<f32>,
    ) -> Result<Var> {
        let n: usize = shape.iter().product();
        let tensor = match &mut self.source {
            Source::Fresh(rng) => {
                Tensor::from_vec(draw(rng, n), shape, &self.device).map_err(candle_err)?
            }
            Source::Closed => {
                return Err(Error::Unsupported(format!(
                    "tensor `{name}` declared after the network was built"
                )))
            }
            Source::File { tensors, used } => {
                let view = tensors.tensor(name).map_err(|_| {
                    Error::ModelFile(format!("the weights section has no tensor `{name}`"))
                })?;
                if view.dtype() != safetensors::Dtype::F32 {
                    return Err(Error::ModelFile(format!(
                        "weight `{name}` is {:?}, expected F32",
                        view.dtype()
                    )));
                }
                if view.shape() != shape {
                    return Err(Error::ModelFile(format!(
                        "weight `{name}` has shape {:?}, the parameters imply {shape:?}",
                        view.shape()
                    )));
                }
                let finite = view
                    .data()
                    .chunks_exact(4)
                    .all(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite());
                if !finite {
                    return Err(Error::ModelFile(format!(
                        "weight `{name}` holds a non-finite value"
                    )));
                }
                used.insert(name.to_string());
                Tensor::from_raw_buffer(view.data(), DType::F32, shape, &self.device)
                    .map_err(candle_err)?
            }
        };
        Var::from_tensor(&tensor).map_err(candle_err)
    }

    /// Checks that every tensor of a model file was declared (none is left unexplained).
    pub fn finish(&self) -> Result<()> {
        if let Source::File { tensors, used } = &self.source {
            let mut extra: Vec<String> = tensors
                .names()
                .into_iter()
                .filter(|n| !used.contains(*n))
                .map(str::to_string)
                .collect();
            if !extra.is_empty() {
                extra.sort();
                return Err(Error::ModelFile(format!(
                    "the weights section holds tensors the model does not have: {}",
                    extra.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The same tensors, no longer tied to the bytes they were read from.
    pub fn into_owned(self) -> Weights<'static> {
        Weights {
            device: self.device,
            source: Source::Closed,
            trainable: self.trainable,
            buffers: self.buffers,
        }
    }

    /// The tensors the optimiser trains.
    pub fn trainable(&self) -> Vec<Var> {
        self.trainable_named(&[""])
    }

    /// The trainable tensors whose names start with one of `prefixes`.
    pub fn trainable_named(&self, prefixes: &[&str]) -> Vec<Var> {
        self.trainable
            .iter()
            .filter(|(n, _)| prefixes.iter().any(|p| n.starts_with(p)))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The current values of every tensor (trainable and buffers), for early stopping's best.
    pub fn values(&self) -> Result<Vec<Tensor>> {
        self.all()
            .map(|(_, v)| v.as_tensor().copy().map_err(candle_err))
            .collect()
    }

    /// Puts back values taken by [`Weights::values`].
    pub fn restore(&self, values: &[Tensor]) -> Result<()> {
        for ((_, var), value) in self.all().zip(values) {
            var.set(value).map_err(candle_err)?;
        }
        Ok(())
    }

    fn all(&self) -> impl Iterator<Item = &(String, Var)> {
        self.trainable.iter().chain(&self.buffers)
    }

    /// Every tensor as safetensors bytes (names sorted, as the format stores them).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let tensors: Vec<(String, Tensor)> = self
            .all()
            .map(|(n, v)| {
                Ok((
                    n.clone(),
                    v.as_tensor().to_device(&Device::Cpu).map_err(candle_err)?,
                ))
            })
            .collect::<Result<_>>()?;
        safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), None)
            .map_err(|e| Error::ModelFile(format!("cannot write the weights: {e}")))
    }
}
