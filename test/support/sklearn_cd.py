# scikit-learn's NMF(solver='cd', shuffle=False) from a given start, for test/hals.test.ts: reads X,
# H0 (its W) and W0 (its H transposed) from .npy files, runs max_iter iterations (tol 0: its
# violation test never stops it early), with alpha_W, alpha_H, l1_ratio as given (its W is our H:
# our alphaH is its alpha_W), and writes the factors back in our shapes.
import sys
import warnings

import numpy as np
from sklearn.decomposition import NMF

folder, iters, alpha_h, alpha_w, l1_ratio = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
X, H0, W0 = (np.load(f'{folder}/{n}.npy') for n in ('X', 'H0', 'W0'))
warnings.simplefilter('ignore')
m = NMF(n_components=W0.shape[1], solver='cd', beta_loss='frobenius', init='custom', max_iter=iters, tol=0, shuffle=False,
        alpha_W=alpha_h, alpha_H=alpha_w, l1_ratio=l1_ratio)
H = m.fit_transform(X, W=H0.copy(), H=np.ascontiguousarray(W0.T))
np.save(f'{folder}/H.npy', H)
np.save(f'{folder}/W.npy', np.ascontiguousarray(m.components_.T))
