//! Random name suffixes: five characters from Kubernetes' generateName alphabet (no vowels, no look-alikes),
//! for generated object names and for temporary file names alike.

pub fn suffix() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut b = [0u8; 5];
    SystemRandom::new().fill(&mut b).expect("system randomness");
    b.iter().map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char).collect()
}
