export const WORDS = ['alpha', 'beta', 'gamma'];
