# scikit-learn's NMF(solver='mu') from a given start, for test/sklearn.test.ts: reads X, H0 (its W)
# and W0 (its H transposed) from .npy files, runs max_iter iterations without a stopping test, and
# writes the factors back in our shapes. Optional: alpha (alpha_W = alpha_H, argv[4]) and
# l1_ratio (argv[5]); prints reconstruction_err_.
import sys
import warnings

import numpy as np
from sklearn.decomposition import NMF

folder, beta, iters = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
alpha = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
l1_ratio = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
X, H0, W0 = (np.load(f'{folder}/{n}.npy') for n in ('X', 'H0', 'W0'))
warnings.simplefilter('ignore')
m = NMF(n_components=W0.shape[1], solver='mu', beta_loss=beta, init='custom', max_iter=iters, tol=0,
        alpha_W=alpha, alpha_H='same', l1_ratio=l1_ratio)
H = m.fit_transform(X, W=H0.copy(), H=np.ascontiguousarray(W0.T))
np.save(f'{folder}/H.npy', H)
np.save(f'{folder}/W.npy', np.ascontiguousarray(m.components_.T))
print(m.reconstruction_err_)
