//! Style mixes of multi-style models (conditional instance norm, Dumoulin et al. 2017): the
//! `style_weights` input of such a model weights its styles; the network mixes each norm's
//! per-style scale and shift with them, so blends are as cheap as one style.

use crate::error::{Error, Result};

/// Parses `candy=0.7,mosaic=0.3` (or `mosaic`, or indices `0=1,2=1`) against a model's style
/// names; the weights are normalised to sum to 1, styles left out get 0.
pub fn parse_mix(text: &str, names: &[String]) -> Result<Vec<f32>> {
    let known = || names.join(", ");
    let mut mix = vec![0f32; names.len()];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = match part.split_once('=') {
            Some((n, w)) => {
                let w: f32 = w.trim().parse().map_err(|_| Error::Invalid(format!("--style-mix: {w:?} in {part:?} is not a number")))?;
                (n.trim(), w)
            }
            None => (part, 1.0),
        };
        if !weight.is_finite() || weight < 0.0 {
            return Err(Error::Invalid(format!("--style-mix: the weight of {name} must be 0 or more, got {weight}")));
        }
        let index = names
            .iter()
            .position(|n| n == name)
            .or_else(|| name.parse::<usize>().ok().filter(|&i| i < names.len()))
            .ok_or_else(|| Error::Invalid(format!("--style-mix: the model has no style {name:?}; its styles are {}", known())))?;
        mix[index] += weight;
    }
    let sum: f32 = mix.iter().sum();
    if sum <= 0.0 {
        return Err(Error::Invalid(format!("--style-mix {text:?} gives no style any weight; e.g. {}=1", names.first().map_or("0", String::as_str))));
    }
    mix.iter_mut().for_each(|w| *w /= sum);
    Ok(mix)
}

/// `candy 70% + mosaic 30%` (styles under 1% left out).
pub fn describe(mix: &[f32], names: &[String]) -> String {
    let parts: Vec<String> = mix
        .iter()
        .zip(names)
        .filter(|(w, _)| **w >= 0.005)
        .map(|(w, n)| format!("{n} {:.0}%", w * 100.0))
        .collect();
    parts.join(" + ")
}

/// A mix that glides towards a target at a fixed speed, so live style changes morph instead
/// of jumping.
#[derive(Clone, Debug, PartialEq)]
pub struct Glide {
    pub current: Vec<f32>,
    pub target: Vec<f32>,
}

impl Glide {
    pub fn new(mix: Vec<f32>) -> Self {
        Self { target: mix.clone(), current: mix }
    }

    /// Moves `current` towards `target` by at most `amount` of weight (the sum of the absolute
    /// changes is at most 2 for a full switch between two styles); true if it changed.
    pub fn step(&mut self, amount: f32) -> bool {
        let distance: f32 = self.current.iter().zip(&self.target).map(|(c, t)| (t - c).abs()).sum();
        if distance == 0.0 {
            return false;
        }
        let k = if distance <= amount { 1.0 } else { amount / distance };
        for (c, t) in self.current.iter_mut().zip(&self.target) {
            *c += (t - *c) * k;
        }
        if k == 1.0 {
            self.current.clone_from(&self.target);
        }
        true
    }

    pub fn arrived(&self) -> bool {
        self.current == self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pure mix of style `i` of `n`.
    fn one_style(i: usize, n: usize) -> Vec<f32> {
        (0..n).map(|j| if j == i { 1.0 } else { 0.0 }).collect()
    }

    fn names() -> Vec<String> {
        ["candy", "mosaic", "udnie"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mixes_parse_and_normalise() {
        assert_eq!(parse_mix("candy=0.7,mosaic=0.3", &names()).unwrap(), [0.7, 0.3, 0.0]);
        assert_eq!(parse_mix("udnie", &names()).unwrap(), [0.0, 0.0, 1.0]);
        assert_eq!(parse_mix("candy=1, 2=1", &names()).unwrap(), [0.5, 0.0, 0.5]);
        let e = parse_mix("starry=1", &names()).unwrap_err().to_string();
        assert!(e.contains("no style \"starry\"") && e.contains("candy, mosaic, udnie"), "{e}");
        assert!(parse_mix("candy=-1,mosaic=2", &names()).is_err());
        assert!(parse_mix("candy=x", &names()).is_err());
        assert!(parse_mix("candy=0", &names()).is_err());
        assert_eq!(describe(&[0.7, 0.3, 0.0], &names()), "candy 70% + mosaic 30%");
    }

    #[test]
    fn glide_moves_at_a_fixed_speed_and_arrives() {
        let mut g = Glide::new(one_style(0, 3));
        assert!(!g.step(0.5));
        g.target = one_style(2, 3);
        assert!(g.step(0.5));
        assert_eq!(g.current, [0.75, 0.0, 0.25]);
        assert!((g.current.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let mut steps = 1;
        while !g.arrived() {
            g.step(0.5);
            steps += 1;
        }
        assert_eq!(steps, 4);
        assert_eq!(g.current, [0.0, 0.0, 1.0]);
    }
}
