//! A variational autoencoder on vectors, as PyOD's `VAE` builds, trains and scores it (PyOD 2;
//! Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014; the β-VAE loss with a
//! capacity after Burgess et al., "Understanding disentangling in β-VAE", 2018): rows
//! standardised; an encoder of `Linear → ReLU → Dropout(0.2)` blocks (128, 64, 32) with two
//! linear heads, the latent mean and log-variance (2 dimensions, the log-variance clipped to
//! [−30, 20]); a sample `z = μ + ε·σ`; a decoder of blocks (32, 64, 128) and a linear output.
//! Trained on `mse(x, x̂) + β · clamp(KL, 0, capacity)` (Adam, lr 1e-3, weight decay 1e-5, 30
//! epochs, batches of 32). With PyOD's defaults, `β = 1` and `capacity = 0`, the clamp makes
//! the KL term zero: the model is an autoencoder trained through a noisy code, and a positive
//! `capacity` brings the divergence in. A row's score is the Euclidean distance between the row
//! and its reconstruction.
//!
//! One departure: PyOD samples `z` when it scores as well, so its scores change from call to
//! call; here scoring decodes the mean `μ`, so that the same model gives the same scores.

use crate::layers::{layer_sizes, normal_noise, DenseStack, Linear, Pass};
use crate::{training_params, Batch, Combine, Network, Samples, Step, Training, Weights};
use anomex_core::typed::Seed;
use anomex_core::{About, DataKind, Learning, Result};
use candle_core::Tensor;

anomex_core::params! {
    /// The network's shape and loss (PyOD's defaults).
    pub struct VaeParams {
        /// hidden layer sizes of the encoder, comma-separated
        pub encoder_neuron_list: String = "128,64,32".to_string();
        /// hidden layer sizes of the decoder, comma-separated
        pub decoder_neuron_list: String = "32,64,128".to_string();
        /// dimensions of the latent code
        pub latent_dim: usize = 2, in 1..=65_536;
        /// batch normalisation after each hidden linear layer
        pub batch_norm: bool = false;
        /// dropout after each hidden layer, in training
        pub dropout_rate: f64 = 0.2, in 0.0..=0.95;
        /// weight of the KL divergence in the loss
        pub beta: f64 = 1.0, in 0.0..=1e6;
        /// the most KL divergence the loss counts (0: none, PyOD's default)
        pub capacity: f64 = 0.0, in 0.0..=1e6;
    }
    validate |p| {
        layer_sizes("encoder_neuron_list", &p.encoder_neuron_list)?;
        layer_sizes("decoder_neuron_list", &p.decoder_neuron_list).map(|_| ())
    }
}

training_params! {
    /// How PyOD trains its VAE.
    pub struct VaeTraining {
        max_epochs = 30,
        patience = 0,
        batch_size = 32,
        lr = 1e-3,
        weight_decay = 1e-5,
        validation = 0.0,
    }
}

/// The bounds PyOD clips the log-variance to.
const LOGVAR_CLIP: (f64, f64) = (-30.0, 20.0);

/// PyOD's variational autoencoder.
#[derive(Debug)]
pub struct Vae {
    encoder: DenseStack,
    mu: Linear,
    logvar: Linear,
    decoder: DenseStack,
    output: Linear,
    beta: f64,
    capacity: f64,
}

impl Vae {
    /// The reconstruction, the latent mean and the clipped log-variance.
    fn forward(
        &self,
        x: &Tensor,
        pass: &mut Pass<'_>,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let h = self.encoder.forward(x, pass)?;
        let mu = self.mu.forward(&h)?;
        let logvar = self
            .logvar
            .forward(&h)?
            .clamp(LOGVAR_CLIP.0, LOGVAR_CLIP.1)?;
        let z = match normal_noise(mu.dims(), pass, mu.device())? {
            Some(eps) => (&mu + (eps * (&logvar * 0.5)?.exp()?)?)?,
            None => mu.clone(),
        };
        let h = self.decoder.forward(&z, pass)?;
        Ok((self.output.forward(&h)?, mu, logvar))
    }
}

impl Network for Vae {
    type Params = (VaeParams, VaeTraining, Seed);
    const ABOUT: About = About {
        name: "vae",
        class: "VAE",
        summary:
            "variational autoencoder's reconstruction distance (PyOD's VAE; Kingma & Welling, 2014)",
    };
    const DATA: DataKind = DataKind::Vectors;
    const LEARNING: Learning = Learning::Unsupervised;
    const COMBINE: Combine = Combine::Norm;

    fn samples(_: &Self::Params) -> Samples {
        Samples::Rows
    }
    fn training((_, t, seed): &Self::Params) -> Training {
        t.training(seed.seed)
    }
    fn build((p, _, _): &Self::Params, columns: usize, w: &mut Weights<'_>) -> Result<Self> {
        let enc = layer_sizes("encoder_neuron_list", &p.encoder_neuron_list)?;
        let dec = layer_sizes("decoder_neuron_list", &p.decoder_neuron_list)?;
        let (norm, drop) = (p.batch_norm, p.dropout_rate);
        let encoder = DenseStack::new(w, "encoder", columns, &enc, norm, drop)?;
        let mu = Linear::new(w, "mu", encoder.width, p.latent_dim)?;
        let logvar = Linear::new(w, "logvar", encoder.width, p.latent_dim)?;
        let decoder = DenseStack::new(w, "decoder", p.latent_dim, &dec, norm, drop)?;
        Ok(Vae {
            output: Linear::new(w, "output", decoder.width, columns)?,
            encoder,
            mu,
            logvar,
            decoder,
            beta: p.beta,
            capacity: p.capacity,
        })
    }
    fn loss(&self, batch: &Batch, pass: &mut Pass<'_>, _: Step) -> candle_core::Result<Tensor> {
        let (recon, mu, logvar) = self.forward(&batch.input, pass)?;
        let mse = candle_nn::loss::mse(&recon, &batch.target)?;
        if self.capacity == 0.0 || self.beta == 0.0 {
            // the clamp to [0, 0] leaves nothing of the divergence, nor of its gradient
            return Ok(mse);
        }
        // KL(q(z|x) ‖ N(0, I)) per row, averaged over the batch
        let kl = ((logvar.exp()? + mu.sqr()? - logvar)? - 1.0)?
            .sum(1)?
            .mean_all()?
            * 0.5;
        mse + (kl?.clamp(0.0, self.capacity)? * self.beta)?
    }
    fn errors(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        (self.forward(&batch.input, &mut Pass::Eval)?.0 - &batch.target)?.sqr()
    }
}
