//! Adam (Kingma & Ba), written out so that its moment buffers can be checkpointed and resumed
//! exactly (tch's `nn::Adam` keeps its state inside libtorch, out of reach of a save).
//! Same update as `torch.optim.Adam` without weight decay.

use tch::Tensor;

pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Number of steps taken (bias correction).
    pub step: i64,
    /// (name, parameter, first moment, second moment), sorted by name.
    pub slots: Vec<(String, Tensor, Tensor, Tensor)>,
}

impl Adam {
    pub fn new(vs: &tch::nn::VarStore, lr: f64) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .map(|(n, p)| {
                let (m, v) = (p.zeros_like(), p.zeros_like());
                (n, p, m, v)
            })
            .collect();
        Self { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 0, slots }
    }

    pub fn zero_grad(&mut self) {
        for (_, p, _, _) in &mut self.slots {
            p.zero_grad();
        }
    }

    /// One update from the gradients accumulated in the parameters.
    pub fn step(&mut self) {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2 = 1.0 - self.beta2.powi(self.step as i32);
        let (b1, b2, eps, lr) = (self.beta1, self.beta2, self.eps, self.lr);
        tch::no_grad(|| {
            for (_, p, m, v) in &mut self.slots {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = m.lerp_(&g, 1.0 - b1);
                let _ = v.lerp_(&g.square(), 1.0 - b2);
                let denom = (&*v / bc2).sqrt() + eps;
                let _ = p.addcdiv_(&(&*m * (-lr / bc1)), &denom);
            }
        });
    }
}
