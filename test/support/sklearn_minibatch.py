# scikit-learn's test_nmf_true_reconstruction data (1.2.1's test_nmf.py): a 15×10 matrix with 10
# nonzeros built from planted factors, K = 5, β = 1. Writes X.npy into the folder given and prints
# MiniBatchNMF's reconstruction_err_ (batch_size 3, max_iter 1000, random_state 0).
import sys
import numpy as np
from sklearn.decomposition import MiniBatchNMF

out = sys.argv[1]
n_samples, n_features, n_components = 15, 10, 5
rng = np.random.mtrand.RandomState(42)
W_true = np.zeros([n_samples, n_components])
W_array = np.abs(rng.randn(n_samples))
for j in range(n_components):
    W_true[j % n_samples, j] = W_array[j % n_samples]
H_true = np.zeros([n_components, n_features])
H_array = np.abs(rng.randn(n_components))
for j in range(n_features):
    H_true[j % n_components, j] = H_array[j % n_components]
X = np.dot(W_true, H_true)
np.save(out + '/X.npy', X)
model = MiniBatchNMF(n_components=n_components, beta_loss=1, batch_size=3, random_state=0, max_iter=1000)
model.fit_transform(X)
print(model.reconstruction_err_)
